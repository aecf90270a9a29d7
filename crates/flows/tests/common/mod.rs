//! Helpers shared by the integration tests of td-flows.

/// Tiny deterministic generator for test inputs (xorshift64*).
pub struct Rand(pub u64);

impl Rand {
    pub fn u(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
    #[allow(dead_code)] // not every test file draws ranges
    pub fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.u()
    }
    pub fn simplex(&mut self, v: usize) -> Vec<f64> {
        let x: Vec<f64> = (0..v).map(|_| -(1.0 - self.u()).ln()).collect();
        let s: f64 = x.iter().sum();
        x.into_iter().map(|a| a / s).collect()
    }
}
