//! The K-weighting filter of the loudness meter as one 4th-order recursion run four outputs at
//! a time ("look-ahead" block form), so that the work per block is independent products that
//! fill SIMD lanes instead of one long chain of dependent multiply-adds per sample.
//!
//! The cascade of the two biquads is `z[n] = sum_k b_k x[n-k] - sum_k a_k z[n-k]`, k up to 4.
//! Four consecutive outputs are a linear function of the four inputs before the block, the
//! four inputs of the block and the four outputs before it:
//! `z[0..4] = sum_k gx_k x[k-4] + sum_j gz_j z[j-4]`, where the columns `gx_k`, `gz_j` are the
//! recursion's response to a unit value in that place (computed once, in `f64`). Only the last
//! term depends on the previous block, so the loop-carried chain is one shuffle and two
//! multiply-adds per four samples. Everything is `f64`: the high pass has a double pole near
//! `z = 1`, which `f32` cannot resolve.

/// Frames per block.
const B: usize = 4;
/// Frames per slice converted to `f64` at a time (16 kB per channel, stays in L1).
const SLICE: usize = 1024;

/// State of one channel: the last four inputs and outputs, oldest first.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct KState {
    x: [f64; 4],
    z: [f64; 4],
}

impl KState {
    /// Sets values below 1e-30 to zero, so that silence after sound does not run on denormals.
    pub(crate) fn flush_denormals(&mut self) {
        for v in self.x.iter_mut().chain(self.z.iter_mut()) {
            if v.abs() < 1e-30 {
                *v = 0.0;
            }
        }
    }
}

/// The K-weighting recursion and its block form.
#[derive(Debug, Clone)]
pub(crate) struct KFilter {
    /// Feed-forward coefficients b_0..b_4.
    b: [f64; 5],
    /// Feedback coefficients a_1..a_4.
    a: [f64; 4],
    /// `gx[k][j]`: output j of a block per unit of input `x[k - 4]`.
    gx: [[f64; B]; 8],
    /// `gz[j][i]`: output i of a block per unit of output `z[j - 4]`.
    gz: [[f64; B]; 4],
    #[cfg(target_arch = "x86_64")]
    avx2: bool,
    #[cfg(target_arch = "x86_64")]
    avx512: bool,
}

impl KFilter {
    /// The cascade of a biquad (`shelf_b`, `shelf_a` = a_1, a_2) and a high pass with numerator
    /// `1, -2, 1` and denominator `hp_a`.
    pub(crate) fn new(shelf_b: [f64; 3], shelf_a: [f64; 2], hp_a: [f64; 2]) -> Self {
        let conv3 = |p: [f64; 3], q: [f64; 3]| {
            let mut r = [0.0f64; 5];
            for (i, &pi) in p.iter().enumerate() {
                for (j, &qj) in q.iter().enumerate() {
                    r[i + j] += pi * qj;
                }
            }
            r
        };
        let b = conv3(shelf_b, [1.0, -2.0, 1.0]);
        let a5 = conv3([1.0, shelf_a[0], shelf_a[1]], [1.0, hp_a[0], hp_a[1]]);
        let a = [a5[1], a5[2], a5[3], a5[4]];
        let mut f = KFilter {
            b,
            a,
            gx: [[0.0; B]; 8],
            gz: [[0.0; B]; 4],
            #[cfg(target_arch = "x86_64")]
            avx2: std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            avx512: std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl"),
        };
        for k in 0..8 {
            let mut st = KState::default();
            let mut input = [0.0f64; B];
            if k < 4 {
                st.x[k] = 1.0;
            } else {
                input[k - 4] = 1.0;
            }
            for (j, &x) in input.iter().enumerate() {
                f.gx[k][j] = f.step(&mut st, x);
            }
        }
        for j in 0..4 {
            let mut st = KState::default();
            st.z[j] = 1.0;
            for i in 0..B {
                f.gz[j][i] = f.step(&mut st, 0.0);
            }
        }
        f
    }

    /// One output of the recursion.
    #[inline(always)]
    fn step(&self, st: &mut KState, x: f64) -> f64 {
        let [b0, b1, b2, b3, b4] = self.b;
        let [a1, a2, a3, a4] = self.a;
        let [x4, x3, x2, x1] = st.x;
        let [z4, z3, z2, z1] = st.z;
        let ff = b0 * x + b1 * x1 + b2 * x2 + b3 * x3 + b4 * x4;
        let z = ff - a4 * z4 - a3 * z3 - a2 * z2 - a1 * z1;
        st.x = [x3, x2, x1, x];
        st.z = [z3, z2, z1, z];
        z
    }

    crate::simd::avx2_method!(
        /// Filters channels `first` and `first + 1` (or only `first` when `states` holds one
        /// state) of the interleaved `frames` (`channels` per frame) with their states; returns
        /// the sums of the squared outputs.
        pub(crate) fn energy / energy_avx2 => energy_impl(
            &self,
            frames: &[f32],
            channels: usize,
            first: usize,
            states: &mut [KState],
            scratch: &mut [Vec<f64>; 2]
        ) -> [f64; 2]
    );

    #[inline(always)]
    fn energy_impl(
        &self,
        frames: &[f32],
        channels: usize,
        first: usize,
        states: &mut [KState],
        scratch: &mut [Vec<f64>; 2],
    ) -> [f64; 2] {
        let pair = states.len() == 2;
        let n = frames.len() / channels;
        let mut sums = [0.0f64; 2];
        if channels == 2 && pair {
            let (s0, s1) = states.split_at_mut(1);
            let whole = n / B * B;
            if let Some(s) = self.stereo_blocks(&frames[..2 * whole], &mut s0[0], &mut s1[0]) {
                sums = s;
                // The last frames one at a time.
                for f in frames[2 * whole..2 * n].chunks_exact(2) {
                    for (c, st) in [&mut s0[0], &mut s1[0]].into_iter().enumerate() {
                        let z = self.step(st, f64::from(f[c]));
                        sums[c] += z * z;
                    }
                }
                return sums;
            }
        }
        for start in (0..n).step_by(SLICE) {
            let len = SLICE.min(n - start);
            let part = &frames[start * channels..(start + len) * channels];
            for (c, buf) in scratch.iter_mut().enumerate().take(states.len()) {
                buf.clear();
                buf.extend_from_slice(&states[c].x);
                if channels == 2 && pair {
                    buf.extend(part.chunks_exact(2).map(|f| f64::from(f[c])));
                } else {
                    let samples = part.iter().skip(first + c).step_by(channels);
                    buf.extend(samples.map(|&v| f64::from(v)));
                }
            }
            let [sa, sb] = scratch;
            let blocks = len / B;
            let s = if pair {
                let (s0, s1) = states.split_at_mut(1);
                self.blocks(
                    &sa[..4 + blocks * B],
                    &sb[..4 + blocks * B],
                    &mut s0[0],
                    &mut s1[0],
                )
            } else {
                let mut spare = KState::default();
                let s = self.blocks(&sa[..4 + blocks * B], &sa[..4], &mut states[0], &mut spare);
                [s[0], 0.0]
            };
            sums[0] += s[0];
            sums[1] += s[1];
            // The last frames one at a time.
            for (c, buf) in scratch.iter().enumerate().take(states.len()) {
                for &x in &buf[4 + blocks * B..] {
                    let z = self.step(&mut states[c], x);
                    sums[c] += z * z;
                }
            }
        }
        sums
    }

    /// Runs whole blocks over `xa` and `xb` (each: the state's four inputs, then the block
    /// inputs; `xb` may be just four values, then only `xa` is filtered). The states' outputs
    /// and inputs are updated.
    fn blocks(&self, xa: &[f64], xb: &[f64], sa: &mut KState, sb: &mut KState) -> [f64; 2] {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 && self.avx512 {
            // SAFETY: the CPU supports AVX2, FMA, AVX-512F and AVX-512VL (checked in `new`).
            #[allow(unsafe_code)]
            return unsafe { self.blocks_avx512(xa, xb, sa, sb) };
        }
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is only set when the CPU supports AVX2 and FMA (checked in `new`).
            #[allow(unsafe_code)]
            return unsafe { self.blocks_avx2(xa, xb, sa, sb) };
        }
        [self.blocks_portable(xa, sa), self.blocks_portable(xb, sb)]
    }

    /// [`Self::blocks`] on interleaved stereo `f32` frames (whole blocks), when the CPU runs the
    /// SIMD kernels; `None` otherwise.
    #[allow(unused_variables)]
    fn stereo_blocks(&self, frames: &[f32], sa: &mut KState, sb: &mut KState) -> Option<[f64; 2]> {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 && self.avx512 {
            // SAFETY: the CPU supports AVX2, FMA, AVX-512F and AVX-512VL (checked in `new`).
            #[allow(unsafe_code)]
            return Some(unsafe { self.stereo_blocks_avx512(frames, sa, sb) });
        }
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is only set when the CPU supports AVX2 and FMA (checked in `new`).
            #[allow(unsafe_code)]
            return Some(unsafe { self.stereo_blocks_avx2(frames, sa, sb) });
        }
        None
    }

    /// The block form in plain Rust (vectorised by the compiler where it can).
    fn blocks_portable(&self, x: &[f64], st: &mut KState) -> f64 {
        let mut zv = st.z;
        let mut sum = [0.0f64; B];
        for w in x.windows(8).step_by(B) {
            let mut z = [0.0f64; B];
            for (g, &xk) in self.gx.iter().zip(w) {
                for (z, &g) in z.iter_mut().zip(g) {
                    *z += g * xk;
                }
            }
            for (g, &zj) in self.gz.iter().zip(&zv) {
                for (z, &g) in z.iter_mut().zip(g) {
                    *z += g * zj;
                }
            }
            for (s, &z) in sum.iter_mut().zip(&z) {
                *s += z * z;
            }
            zv = z;
        }
        if x.len() >= 8 {
            st.z = zv;
            st.x.copy_from_slice(&x[x.len() - 4..]);
        }
        sum.iter().sum()
    }
}

/// The eight inputs of block `i` of `x` (the four before it, then its own), if `x` has them.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn window(x: &[f64], i: usize) -> Option<&[f64; 8]> {
    x.get(B * i..B * i + 8).and_then(|w| w.try_into().ok())
}

/// Defines `$block(w, zv)`: one block of one channel from its eight inputs `w` (four before
/// the block) and the previous block's outputs `zv`, with the coefficient columns `$gx`, `$gz`
/// (inside a function compiled with AVX2 and FMA): the inputs' part in two halves, then the
/// outputs' part, whose chain is one shuffle and two multiply-adds long.
#[cfg(target_arch = "x86_64")]
macro_rules! k_block {
    ($block:ident, $gx:ident, $gz:ident) => {
        let $block = |w: &[f64; 8], zv: __m256d| {
            let x = |k: usize| _mm256_set1_pd(w[k]);
            let mut lo = _mm256_mul_pd($gx[0], x(0));
            let mut hi = _mm256_mul_pd($gx[4], x(4));
            lo = _mm256_fmadd_pd($gx[1], x(1), lo);
            hi = _mm256_fmadd_pd($gx[5], x(5), hi);
            lo = _mm256_fmadd_pd($gx[2], x(2), lo);
            hi = _mm256_fmadd_pd($gx[6], x(6), hi);
            lo = _mm256_fmadd_pd($gx[3], x(3), lo);
            hi = _mm256_fmadd_pd($gx[7], x(7), hi);
            lo = _mm256_fmadd_pd($gz[3], _mm256_permute4x64_pd::<0xFF>(zv), lo);
            hi = _mm256_fmadd_pd($gz[2], _mm256_permute4x64_pd::<0xAA>(zv), hi);
            lo = _mm256_fmadd_pd($gz[1], _mm256_permute4x64_pd::<0x55>(zv), lo);
            hi = _mm256_fmadd_pd($gz[0], _mm256_permute4x64_pd::<0x00>(zv), hi);
            _mm256_add_pd(lo, hi)
        };
    };
}

/// Defines `$load` (four `f64` into a register) and `$lanes` (a register back to four `f64`)
/// inside a function compiled with AVX2.
#[cfg(target_arch = "x86_64")]
macro_rules! m256_lanes {
    ($load:ident, $lanes:ident) => {
        let $load = |v: &[f64; 4]| _mm256_setr_pd(v[0], v[1], v[2], v[3]);
        let $lanes = |v: __m256d| {
            let (lo, hi) = (_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
            [
                _mm_cvtsd_f64(lo),
                _mm_cvtsd_f64(_mm_unpackhi_pd(lo, lo)),
                _mm_cvtsd_f64(hi),
                _mm_cvtsd_f64(_mm_unpackhi_pd(hi, hi)),
            ]
        };
    };
}

/// Defines the block form with AVX2 and FMA as a method `$name` compiled for `$features`, two
/// channels interleaved so that their chains overlap.
#[cfg(target_arch = "x86_64")]
macro_rules! blocks_simd {
    ($(#[$doc:meta])* $name:ident, $stereo:ident, $features:literal) => {
        impl KFilter {
            $(#[$doc])*
            #[target_feature(enable = $features)]
            fn $name(&self, xa: &[f64], xb: &[f64], sa: &mut KState, sb: &mut KState) -> [f64; 2] {
        use std::arch::x86_64::*;
        m256_lanes!(load, lanes);
        let gx: [__m256d; 8] = std::array::from_fn(|k| load(&self.gx[k]));
        let gz: [__m256d; 4] = std::array::from_fn(|j| load(&self.gz[j]));
        k_block!(block, gx, gz);
        let blocks = xa.len().saturating_sub(4) / B;
        let nb = if xb.len() == xa.len() { blocks } else { 0 };
        let (mut za, mut zb) = (load(&sa.z), load(&sb.z));
        let (mut suma, mut sumb) = (_mm256_setzero_pd(), _mm256_setzero_pd());
        for i in 0..nb {
            if let (Some(wa), Some(wb)) = (window(xa, i), window(xb, i)) {
                za = block(wa, za);
                zb = block(wb, zb);
                suma = _mm256_fmadd_pd(za, za, suma);
                sumb = _mm256_fmadd_pd(zb, zb, sumb);
            }
        }
        for i in nb..blocks {
            if let Some(wa) = window(xa, i) {
                za = block(wa, za);
                suma = _mm256_fmadd_pd(za, za, suma);
            }
        }
        let hsum = |v: __m256d| {
            let [a, b, c, d] = lanes(v);
            (a + b) + (c + d)
        };
        if blocks > 0 {
            sa.z = lanes(za);
            sa.x.copy_from_slice(&xa[B * blocks..B * blocks + 4]);
        }
        if nb > 0 {
            sb.z = lanes(zb);
            sb.x.copy_from_slice(&xb[B * nb..B * nb + 4]);
        }
        [hsum(suma), hsum(sumb)]
            }

            /// The same block form on interleaved stereo `f32` frames (whole blocks only; the
            /// last `frames.len() / 2 % 4` frames are left to the caller), converting each
            /// block's inputs to `f64` on the way in instead of in a pass of its own.
            #[target_feature(enable = $features)]
            fn $stereo(&self, frames: &[f32], sa: &mut KState, sb: &mut KState) -> [f64; 2] {
        use std::arch::x86_64::*;
        m256_lanes!(load, lanes);
        let gx: [__m256d; 8] = std::array::from_fn(|k| load(&self.gx[k]));
        let gz: [__m256d; 4] = std::array::from_fn(|j| load(&self.gz[j]));
        k_block!(block, gx, gz);
        let (mut za, mut zb) = (load(&sa.z), load(&sb.z));
        let (mut suma, mut sumb) = (_mm256_setzero_pd(), _mm256_setzero_pd());
        // Each channel's window: the four inputs before the block, then the block's four.
        // Per group of `G` frames: each channel's inputs as `f64`, after the four before the
        // group (small enough to stay in L1; the blocks broadcast from it).
        const G: usize = 64;
        let (mut xa, mut xb) = ([0.0f64; 4 + G], [0.0f64; 4 + G]);
        xa[..4].copy_from_slice(&sa.x);
        xb[..4].copy_from_slice(&sb.x);
        let hsum = |v: __m256d| {
            let [a, b, c, d] = lanes(v);
            (a + b) + (c + d)
        };
        let mut sums = [0.0f64; 2];
        let mut done = 0usize;
        for group in frames.chunks(2 * G) {
            let len = group.len() / 2 / B * B;
            for ((a, b), f) in xa[4..].iter_mut().zip(&mut xb[4..]).zip(group.chunks_exact(2)) {
                *a = f64::from(f[0]);
                *b = f64::from(f[1]);
            }
            for i in 0..len / B {
                // Partial sums per `SLICE` frames, added in the order of the slice-wise path.
                if done > 0 && done % SLICE == 0 {
                    sums[0] += hsum(suma);
                    sums[1] += hsum(sumb);
                    (suma, sumb) = (_mm256_setzero_pd(), _mm256_setzero_pd());
                }
                if let (Some(wa), Some(wb)) = (window(&xa, i), window(&xb, i)) {
                    za = block(wa, za);
                    zb = block(wb, zb);
                    suma = _mm256_fmadd_pd(za, za, suma);
                    sumb = _mm256_fmadd_pd(zb, zb, sumb);
                }
                done += B;
            }
            if len >= 4 {
                xa.copy_within(len..len + 4, 0);
                xb.copy_within(len..len + 4, 0);
            }
        }
        if done > 0 {
            sa.z = lanes(za);
            sb.z = lanes(zb);
            sa.x.copy_from_slice(&xa[..4]);
            sb.x.copy_from_slice(&xb[..4]);
        }
        [sums[0] + hsum(suma), sums[1] + hsum(sumb)]
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
blocks_simd!(
    /// The block form with AVX2 and FMA.
    blocks_avx2,
    stereo_blocks_avx2,
    "avx2,fma"
);

#[cfg(target_arch = "x86_64")]
blocks_simd!(
    /// The block form with AVX-512 available: the same instructions, but 32 vector registers
    /// instead of 16, so that the 12 coefficient vectors and both chains stay in registers.
    blocks_avx512,
    stereo_blocks_avx512,
    "avx2,fma,avx512f,avx512vl"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn filter() -> KFilter {
        // The BS.1770-4 coefficients at 48 kHz.
        KFilter::new(
            [
                1.535_124_859_586_97,
                -2.691_696_189_406_38,
                1.198_392_810_852_85,
            ],
            [-1.690_659_293_182_41, 0.732_480_774_215_85],
            [-1.990_047_454_833_98, 0.990_072_250_366_21],
        )
    }

    /// The two biquads one sample at a time, in direct form I.
    fn cascade(x: &[f32]) -> Vec<f64> {
        let (b, a) = (
            [
                1.535_124_859_586_97,
                -2.691_696_189_406_38,
                1.198_392_810_852_85,
            ],
            [-1.690_659_293_182_41, 0.732_480_774_215_85],
        );
        let c = [-1.990_047_454_833_98, 0.990_072_250_366_21];
        let (mut x1, mut x2, mut y1, mut y2, mut z1, mut z2) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        x.iter()
            .map(|&x| {
                let x = f64::from(x);
                let y = b[0] * x + b[1] * x1 + b[2] * x2 - a[0] * y1 - a[1] * y2;
                let z = y - 2.0 * y1 + y2 - c[0] * z1 - c[1] * z2;
                (x2, x1, y2, y1, z2, z1) = (x1, x, y1, y, z1, z);
                z
            })
            .collect()
    }

    fn noise(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 24) as f32 - 0.3
            })
            .collect()
    }

    #[test]
    fn blocks_equal_the_cascade_in_any_chunking_and_layout() {
        let f = filter();
        let left = noise(5_003, 1);
        let right = noise(5_003, 2);
        let want = |x: &[f32]| cascade(x).iter().map(|z| z * z).sum::<f64>();
        let (wl, wr) = (want(&left), want(&right));
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-11 * b.abs();
        for channels in 1..=3usize {
            let interleaved: Vec<f32> = (0..left.len())
                .flat_map(|i| [left[i], right[i], 0.5][..channels].to_vec())
                .collect();
            for chunk in [1usize, 3, 4, 7, 1024, 5_003] {
                let mut states = [KState::default(); 2];
                let mut scratch = [Vec::new(), Vec::new()];
                let mut sums = [0.0f64; 2];
                for part in interleaved.chunks(chunk * channels) {
                    let take = if channels >= 2 { 2 } else { 1 };
                    let s = f.energy(part, channels, 0, &mut states[..take], &mut scratch);
                    sums[0] += s[0];
                    sums[1] += s[1];
                }
                assert!(
                    close(sums[0], wl),
                    "{channels} ch, chunk {chunk}: {} vs {wl}",
                    sums[0]
                );
                if channels >= 2 {
                    assert!(close(sums[1], wr), "{channels} ch, chunk {chunk}");
                }
            }
        }
    }

    #[test]
    fn stereo_kernel_equals_the_slice_wise_path() {
        // Stereo frames go through the kernel that converts as it goes; the same two channels
        // inside three-channel frames go through the slice-wise conversion. Same sums, bit for
        // bit, in any chunking (the partial sums are added in the same order).
        let f = filter();
        let (left, right) = (noise(9_001, 4), noise(9_001, 5));
        let stereo: Vec<f32> = (0..left.len()).flat_map(|i| [left[i], right[i]]).collect();
        let three: Vec<f32> = (0..left.len())
            .flat_map(|i| [left[i], right[i], 0.25])
            .collect();
        for chunk in [1usize, 5, 1024, 3_000, 9_001] {
            let run = |frames: &[f32], channels: usize| {
                let mut states = [KState::default(); 2];
                let mut scratch = [Vec::new(), Vec::new()];
                let mut sums = [0.0f64; 2];
                for part in frames.chunks(chunk * channels) {
                    let s = f.energy(part, channels, 0, &mut states, &mut scratch);
                    sums[0] += s[0];
                    sums[1] += s[1];
                }
                (sums, states)
            };
            assert_eq!(run(&stereo, 2), run(&three, 3), "chunk {chunk}");
        }
    }

    #[test]
    fn portable_and_simd_blocks_agree() {
        let f = filter();
        // Four zeros first: the history of the zero state.
        let mut x = vec![0.0f64; 4];
        x.extend(noise(4 * 300, 3).iter().map(|&v| f64::from(v)));
        let (mut s1, mut s2) = (KState::default(), KState::default());
        let portable = f.blocks_portable(&x, &mut s1);
        let [simd, _] = f.blocks(&x, &x[..4], &mut s2, &mut KState::default());
        #[cfg(target_arch = "x86_64")]
        {
            // The AVX2 path without AVX-512's registers, where the CPU has AVX2.
            let mut f2 = filter();
            f2.avx512 = false;
            let mut s3 = KState::default();
            let [avx2, _] = f2.blocks(&x, &x[..4], &mut s3, &mut KState::default());
            assert!(
                (portable - avx2).abs() <= 1e-11 * portable,
                "{portable} vs {avx2}"
            );
        }
        assert!(
            (portable - simd).abs() <= 1e-11 * portable,
            "{portable} vs {simd}"
        );
        for (a, b) in s1.z.iter().zip(&s2.z) {
            // The double pole near z = 1 amplifies rounding: 1e-9 is still float noise.
            assert!((a - b).abs() <= 1e-9 * a.abs().max(1e-3), "{a} vs {b}");
        }
        assert_eq!(s1.x, s2.x);
    }
}
