// circomlibjs's Poseidon and Baby Jubjub, bundled for the browser (build.mjs): the light client
// recomputes the genesis root and checks account proofs with the same reference implementation
// the Rust tests are checked against.
export { buildPoseidon } from "../node_modules/circomlibjs/src/poseidon_wasm.js";
export { default as buildBabyjub } from "../node_modules/circomlibjs/src/babyjub.js";
