// circomlib Poseidon, optimized form (scalar partial-round constants, sparse partial-round
// matrices), for a compile-time width T. Constants come in one flat array in the layout of
// `PoseidonSpec::flat_optimized` (circuits/src/poseidon/spec.rs):
//   first-half round constants (4 T) | pre-partial matrix (T x T) | MDS (T x T)
//   | partial constants (RP) | sparse rows (RP x T) | sparse columns (RP x (T - 1))
//   | second-half round constants (4 T)
#pragma once
#include "bn254_field.cuh"

template <int T>
RST_FN void rst_full_round(Fr* s, const Fr* c, const Fr* m) {
    Fr old[T];
    RST_UNROLL_WIDTH
    for (int i = 0; i < T; i++) old[i] = fr_sbox(fr_add(s[i], c[i]));
    RST_UNROLL_WIDTH
    for (int i = 0; i < T; i++) {
        Fr acc = fr_mul(old[0], m[i * T]);
        RST_UNROLL_WIDTH
        for (int j = 1; j < T; j++) acc = fr_add(acc, fr_mul(old[j], m[i * T + j]));
        s[i] = acc;
    }
}

template <int T>
RST_FN void rst_poseidon_permute(Fr* s, const Fr* k, int rp) {
    const Fr* rc_first = k;
    const Fr* pre = rc_first + 4 * T;
    const Fr* mds = pre + T * T;
    const Fr* pc = mds + T * T;
    const Fr* rows = pc + rp;
    const Fr* cols = rows + rp * T;
    const Fr* rc_last = cols + rp * (T - 1);
    for (int r = 0; r < 4; r++) rst_full_round<T>(s, rc_first + r * T, r == 3 ? pre : mds);
    for (int r = 0; r < rp; r++) {
        Fr x0 = fr_sbox(fr_add(s[0], pc[r]));
        const Fr* row = rows + r * T;
        const Fr* col = cols + r * (T - 1);
        Fr acc = fr_mul(x0, row[0]);
        RST_UNROLL_WIDTH
        for (int j = 1; j < T; j++) acc = fr_add(acc, fr_mul(s[j], row[j]));
        RST_UNROLL_WIDTH
        for (int j = 1; j < T; j++) s[j] = fr_add(s[j], fr_mul(x0, col[j - 1]));
        s[0] = acc;
    }
    for (int r = 0; r < 4; r++) rst_full_round<T>(s, rc_last + r * T, mds);
}

// out = Poseidon(in[0..T-1]).
template <int T>
RST_FN Fr rst_poseidon_hash(const Fr* in, const Fr* k, int rp) {
    Fr s[T];
    RST_UNROLL_WIDTH
    for (int i = 0; i < T; i++) s[i].l[0] = s[i].l[1] = s[i].l[2] = s[i].l[3] = 0;
    RST_UNROLL_WIDTH
    for (int i = 1; i < T; i++) s[i] = in[i - 1];
    rst_poseidon_permute<T>(s, k, rp);
    return s[0];
}
