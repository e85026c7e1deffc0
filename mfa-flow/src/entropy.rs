//! Where the transitions take their randomness from. The service hands the
//! operating system's generator to every transition; the state machine never
//! reaches for randomness itself, so the same inputs give the same step, and
//! tests can give it a fixed or a failing source.

use std::fmt;

/// The operating system's random number generator failed (a fault of the
/// platform, not of any input). Its source is the generator's own error.
pub struct RngError(getrandom::Error);

impl fmt::Debug for RngError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RngError").field(&self.0).finish()
    }
}

impl fmt::Display for RngError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the operating system's random number generator failed")
    }
}

impl std::error::Error for RngError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A source of random bytes.
pub(crate) trait Entropy {
    /// Fills `out` with random bytes.
    fn fill(&mut self, out: &mut [u8]) -> Result<(), RngError>;
}

/// The operating system's generator (`getrandom`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&mut self, out: &mut [u8]) -> Result<(), RngError> {
        getrandom::fill(out).map_err(RngError)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{Entropy, RngError};

    /// A fixed sequence: the byte after `next` each time.
    #[derive(Clone, Debug)]
    pub(crate) struct Counter(pub(crate) u8);

    impl Entropy for Counter {
        fn fill(&mut self, out: &mut [u8]) -> Result<(), RngError> {
            for b in out {
                *b = self.0;
                self.0 = self.0.wrapping_add(1);
            }
            Ok(())
        }
    }

    /// A generator that fails after `n` more bytes.
    #[derive(Clone, Debug)]
    pub(crate) struct FailsAfter(pub(crate) usize);

    impl Entropy for FailsAfter {
        fn fill(&mut self, out: &mut [u8]) -> Result<(), RngError> {
            if out.len() > self.0 {
                return Err(RngError(getrandom::Error::UNEXPECTED));
            }
            self.0 -= out.len();
            out.fill(7);
            Ok(())
        }
    }
}
