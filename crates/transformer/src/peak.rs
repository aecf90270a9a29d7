//! The machine's f32 multiply-add peak, for the bench: twelve independent four-lane chains of
//! `a = a·c + b` (one SIMD128 multiply and one add per chain and step in the page; the same code
//! natively), so no load, no dependency stall and no fused multiply-add (WebAssembly SIMD has
//! none). No matrix product of the forward pass can run faster than this, which bounds its time
//! from below (see the README's benchmarks).

/// Floating-point operations of one [`mul_add_peak`] step.
pub const FLOPS_PER_STEP: f64 = (CHAINS * 4 * 2) as f64;
const CHAINS: usize = 12;

/// `steps` steps of every chain; returns a checksum so nothing is optimised away.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub fn mul_add_peak(steps: u32, seed: f32) -> f32 {
    // Written with the SIMD128 instructions themselves: the loop below is not always vectorised.
    use core::arch::wasm32::{f32x4_add, f32x4_extract_lane, f32x4_mul, f32x4_splat, v128};
    let (b, c) = (f32x4_splat(seed), f32x4_splat(0.999));
    let mut chains: [v128; CHAINS] = [f32x4_splat(0.0); CHAINS];
    for (i, chain) in chains.iter_mut().enumerate() {
        *chain = f32x4_splat(seed + i as f32 * 0.01);
    }
    for _ in 0..steps {
        for chain in &mut chains {
            *chain = f32x4_add(f32x4_mul(*chain, c), b);
        }
    }
    chains
        .iter()
        .map(|&v| f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<3>(v))
        .sum()
}

/// `steps` steps of every chain; returns a checksum so nothing is optimised away.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub fn mul_add_peak(steps: u32, seed: f32) -> f32 {
    let (b, c) = (seed, 0.999_f32);
    let mut chains = [[0.0_f32; 4]; CHAINS];
    for (i, chain) in chains.iter_mut().enumerate() {
        *chain = [seed + i as f32 * 0.01; 4];
    }
    for _ in 0..steps {
        for chain in &mut chains {
            for x in chain.iter_mut() {
                *x = *x * c + b;
            }
        }
    }
    chains.iter().map(|v| v[0] + v[3]).sum()
}
