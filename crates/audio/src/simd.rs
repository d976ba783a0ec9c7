//! Run-time dispatch of hot loops to an AVX2 build of the same code.
//!
//! The crate is built for the baseline x86-64 (SSE2), so the compiler vectorises loops with
//! 4 `f32` lanes. [`avx2_method!`] defines a method that calls an `#[inline(always)]`
//! implementation compiled with AVX2 enabled (8 lanes) when the CPU has it, and the baseline
//! build otherwise. Only the vector width changes: the operations and their order are the same
//! (no fused multiply-add is enabled), so the results are identical.

/// Whether the CPU supports AVX2 (cached by the standard library after the first call).
#[cfg(target_arch = "x86_64")]
pub(crate) fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// `avx2_method!(vis fn name / name_avx2 => name_impl(&mut self, a: A, ...) -> R);` defines
/// `name`, which runs `name_impl` (an `#[inline(always)]` method of the same signature) in the
/// AVX2 build `name_avx2` when the CPU has AVX2. Works with `&self` too.
macro_rules! avx2_method {
    ($(#[$doc:meta])* $vis:vis fn $name:ident / $avx:ident => $imp:ident
        (&mut $s:ident $(, $a:ident : $t:ty)* $(,)?) $(-> $r:ty)?) => {
        $crate::simd::avx2_method!(@def [$(#[$doc])*] [$vis] $name $avx $imp $s [&mut $s]
            [$($a: $t),*] [$($r)?]);
    };
    ($(#[$doc:meta])* $vis:vis fn $name:ident / $avx:ident => $imp:ident
        (&$s:ident $(, $a:ident : $t:ty)* $(,)?) $(-> $r:ty)?) => {
        $crate::simd::avx2_method!(@def [$(#[$doc])*] [$vis] $name $avx $imp $s [&$s]
            [$($a: $t),*] [$($r)?]);
    };
    (@def [$($doc:tt)*] [$($vis:tt)*] $name:ident $avx:ident $imp:ident $s:ident
        [$($recv:tt)*]
        [$($a:ident : $t:ty),*] [$($r:ty)?]) => {
        $($doc)*
        $($vis)* fn $name($($recv)* $(, $a: $t)*) $(-> $r)? {
            #[cfg(target_arch = "x86_64")]
            if $crate::simd::has_avx2() {
                // SAFETY: the CPU supports AVX2, checked just above.
                #[allow(unsafe_code)]
                return unsafe { $s.$avx($($a),*) };
            }
            $s.$imp($($a),*)
        }

        /// The AVX2 build (call only where the CPU has AVX2).
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        fn $avx($($recv)* $(, $a: $t)*) $(-> $r)? {
            $s.$imp($($a),*)
        }
    };
}

pub(crate) use avx2_method;
