/**
 * Pictures of a topology: nodes as clusters, pods inside, one edge per link, coloured by state.
 * `renderDot` needs nothing; `renderSvg` lays out with npm @dagrejs/dagre, so import `./svg.ts` only
 * where a picture is drawn (`ratchet render`, `ratchet status --svg`, monkey), never on a plugin's path.
 * @module
 */
export * from "./model.ts";
export { renderDot } from "./dot.ts";
export { storePicture, withStoreStates } from "./from_store.ts";
