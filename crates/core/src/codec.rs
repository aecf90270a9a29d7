//! A small binary encoding for what a worker sends back to its page: the results a scene computed
//! since the last message (trajectory samples, positions, statistics). Little-endian, no schema:
//! both ends are the same code, so a reader reads exactly what its writer wrote. Kept hand-written
//! and tiny because it ships in every page's WebAssembly (a serde binary format would bring a
//! second set of (de)serialisers for every scene type).
//!
//! A reader never panics on short or corrupt input: it reports [`CodecError`].

/// Writes values in order.
#[derive(Default, Debug, Clone)]
pub struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.bytes.push(v);
        self
    }
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn usize(&mut self, v: usize) -> &mut Self {
        self.u64(v as u64)
    }
    pub fn f64(&mut self, v: f64) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// A length, then the values.
    pub fn f64s(&mut self, v: &[f64]) -> &mut Self {
        self.usize(v.len());
        self.bytes.reserve(v.len() * 8);
        for x in v {
            self.bytes.extend_from_slice(&x.to_le_bytes());
        }
        self
    }
    pub fn usizes(&mut self, v: &[usize]) -> &mut Self {
        self.usize(v.len());
        for &x in v {
            self.usize(x);
        }
        self
    }
    pub fn u64s(&mut self, v: &[u64]) -> &mut Self {
        self.usize(v.len());
        for &x in v {
            self.u64(x);
        }
        self
    }
    pub fn u32s(&mut self, v: &[u32]) -> &mut Self {
        self.usize(v.len());
        for &x in v {
            self.bytes.extend_from_slice(&x.to_le_bytes());
        }
        self
    }
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.usize(v.len());
        self.bytes.extend_from_slice(v);
        self
    }
    pub fn str(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }
    pub fn opt_f64(&mut self, v: Option<f64>) -> &mut Self {
        match v {
            Some(x) => self.bool(true).f64(x),
            None => self.bool(false),
        }
    }
    pub fn opt_usize(&mut self, v: Option<usize>) -> &mut Self {
        match v {
            Some(x) => self.bool(true).usize(x),
            None => self.bool(false),
        }
    }
}

/// Input that does not hold what its reader expects.
#[derive(Debug, Clone, PartialEq)]
pub struct CodecError(pub String);

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad worker message: {}", self.0)
    }
}

pub type Result<T> = std::result::Result<T, CodecError>;

/// Reads values in the order a [`Writer`] wrote them.
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }
    /// Whether every byte was read.
    pub fn is_done(&self) -> bool {
        self.at == self.bytes.len()
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| CodecError(format!("{n} bytes wanted at {}", self.at)))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    pub fn bool(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(CodecError(format!("{b} is not a flag"))),
        }
    }
    pub fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
    pub fn usize(&mut self) -> Result<usize> {
        usize::try_from(self.u64()?).map_err(|_| CodecError("length too large".into()))
    }
    /// A length that can hold at most `remaining / unit` items (guards allocation).
    fn len(&mut self, unit: usize) -> Result<usize> {
        let n = self.usize()?;
        if n.saturating_mul(unit) > self.bytes.len() - self.at {
            return Err(CodecError(format!("{n} items do not fit")));
        }
        Ok(n)
    }
    pub fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_bits(self.u64()?))
    }
    pub fn f64s(&mut self) -> Result<Vec<f64>> {
        let n = self.len(8)?;
        let b = self.take(n * 8)?;
        Ok(b.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect())
    }
    pub fn usizes(&mut self) -> Result<Vec<usize>> {
        let n = self.len(8)?;
        (0..n).map(|_| self.usize()).collect()
    }
    pub fn u64s(&mut self) -> Result<Vec<u64>> {
        let n = self.len(8)?;
        (0..n).map(|_| self.u64()).collect()
    }
    pub fn u32s(&mut self) -> Result<Vec<u32>> {
        let n = self.len(4)?;
        let b = self.take(n * 4)?;
        Ok(b.chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.len(1)?;
        self.take(n)
    }
    pub fn string(&mut self) -> Result<String> {
        Ok(String::from_utf8_lossy(self.bytes()?).into_owned())
    }
    pub fn opt_f64(&mut self) -> Result<Option<f64>> {
        Ok(if self.bool()? {
            Some(self.f64()?)
        } else {
            None
        })
    }
    pub fn opt_usize(&mut self) -> Result<Option<usize>> {
        Ok(if self.bool()? {
            Some(self.usize()?)
        } else {
            None
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_short_input() {
        let mut w = Writer::new();
        w.u8(7)
            .bool(true)
            .f64(-0.0)
            .f64s(&[1.5, f64::NAN, f64::INFINITY])
            .usizes(&[3, 4])
            .u32s(&[9])
            .str("π ≈ 3")
            .opt_f64(None)
            .opt_usize(Some(12));
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8().unwrap(), 7);
        assert!(r.bool().unwrap());
        assert_eq!(r.f64().unwrap().to_bits(), (-0.0f64).to_bits());
        let v = r.f64s().unwrap();
        assert_eq!(v[0], 1.5);
        assert!(v[1].is_nan() && v[2].is_infinite());
        assert_eq!(r.usizes().unwrap(), [3, 4]);
        assert_eq!(r.u32s().unwrap(), [9]);
        assert_eq!(r.string().unwrap(), "π ≈ 3");
        assert_eq!(r.opt_f64().unwrap(), None);
        assert_eq!(r.opt_usize().unwrap(), Some(12));
        assert!(r.is_done());
        // Every prefix fails cleanly, and a huge length does not allocate.
        for cut in 0..bytes.len() {
            let mut r = Reader::new(&bytes[..cut]);
            let all = (|| -> Result<()> {
                r.u8()?;
                r.bool()?;
                r.f64()?;
                r.f64s()?;
                r.usizes()?;
                r.u32s()?;
                r.string()?;
                r.opt_f64()?;
                r.opt_usize()?;
                Ok(())
            })();
            assert!(all.is_err(), "prefix {cut} read fully");
        }
        let mut w = Writer::new();
        w.usize(usize::MAX / 2);
        assert!(Reader::new(&w.into_bytes()).f64s().is_err());
    }
}
