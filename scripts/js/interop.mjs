// Reference side of Rustorium's interop tests: reads a JSON request on stdin, answers on stdout.
// {"sign":[{"secret":hex,"msg":dec}], "verify":[{"pubkey":[x,y],"msg":dec,"sig":[r8x,r8y,s]}],
//  "poseidon":[[dec,...]]}
// -> {"sign":[{"pubkey":[x,y],"sig":[r8x,r8y,s],"packed":hex}], "verify":[bool], "poseidon":[dec]}
import { buildEddsa, buildPoseidon } from "circomlibjs";

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const req = JSON.parse(Buffer.concat(chunks).toString());
const eddsa = await buildEddsa();
const poseidon = await buildPoseidon();
const F = eddsa.babyJub.F;
const str = (x) => F.toObject(x).toString();

const out = { sign: [], verify: [], poseidon: [] };
for (const { secret, msg } of req.sign ?? []) {
  const prv = Buffer.from(secret, "hex");
  const pub = eddsa.prv2pub(prv);
  const sig = eddsa.signPoseidon(prv, F.e(BigInt(msg)));
  out.sign.push({
    pubkey: [str(pub[0]), str(pub[1])],
    sig: [str(sig.R8[0]), str(sig.R8[1]), sig.S.toString()],
    packed: Buffer.from(eddsa.packSignature(sig)).toString("hex"),
  });
}
for (const { pubkey, msg, sig } of req.verify ?? []) {
  const A = [F.e(BigInt(pubkey[0])), F.e(BigInt(pubkey[1]))];
  const s = { R8: [F.e(BigInt(sig[0])), F.e(BigInt(sig[1]))], S: BigInt(sig[2]) };
  out.verify.push(eddsa.verifyPoseidon(F.e(BigInt(msg)), s, A));
}
for (const inputs of req.poseidon ?? []) {
  out.poseidon.push(poseidon.F.toObject(poseidon(inputs.map((x) => BigInt(x)))).toString());
}
process.stdout.write(JSON.stringify(out));
