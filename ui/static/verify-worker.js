// Verifies Groth16 proofs with snarkjs off the page's thread. Messages in:
// {id, vk, publicSignals, proof}; out: {id, ok, ms} or {id, error}.
importScripts("snarkjs.min.js");
self.onmessage = async (e) => {
  const { id, vk, publicSignals, proof } = e.data;
  const t0 = performance.now();
  try {
    const ok = await snarkjs.groth16.verify(vk, publicSignals, proof);
    self.postMessage({ id, ok, ms: performance.now() - t0 });
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message || err) });
  }
};
