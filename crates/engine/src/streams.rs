use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

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

    /// The same numbers as [`RandomStreams::stream`] gives by `next_u64`, drawn two ChaCha8
    /// blocks at a time: the fleet draws a dozen numbers per device from a fresh stream,
    /// where `rand_chacha`'s generator always computes four blocks (64 words) and copies them
    /// about; two blocks (32 words) cover the dozen, and cost three quarters of the time.
    #[inline]
    pub fn sequence(&self, entity: u32, purpose: Purpose) -> Sequence {
        let key = self.key(entity, purpose);
        let key = std::array::from_fn(|i| {
            u32::from_le_bytes([key[4 * i], key[4 * i + 1], key[4 * i + 2], key[4 * i + 3]])
        });
        let mut words = [0u32; SEQUENCE_WORDS];
        chacha8_blocks(&key, 0, &mut words);
        Sequence {
            key,
            block: 2,
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

/// Words of a [`Sequence`]'s output: two ChaCha blocks.
const SEQUENCE_WORDS: usize = 32;

/// A stream's numbers in order ([`RandomStreams::sequence`]): the ChaCha8 key, the block
/// counter and the words of the last two blocks, read two at a time as `rand`'s block
/// generator reads them (pairs of consecutive words of the key stream, whatever the size of
/// the buffer the stream is cut into).
#[derive(Clone, Debug)]
pub struct Sequence {
    key: [u32; 8],
    /// The block after the last one computed.
    block: u64,
    words: [u32; SEQUENCE_WORDS],
    /// The next word to read (`SEQUENCE_WORDS`: none left).
    next: usize,
}

impl Sequence {
    /// The next number: the same as `ChaCha8Rng::next_u64` at the same place in the stream.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let (lo, hi);
        if self.next + 1 < SEQUENCE_WORDS {
            lo = self.words[self.next];
            hi = self.words[self.next + 1];
            self.next += 2;
        } else {
            // The last word (if one is left) and the first of the next blocks, as the block
            // generator does at the end of its output.
            let last = self.next + 1 == SEQUENCE_WORDS;
            let carried = self.words[SEQUENCE_WORDS - 1];
            self.refill();
            if last {
                lo = carried;
                hi = self.words[0];
                self.next = 1;
            } else {
                lo = self.words[0];
                hi = self.words[1];
                self.next = 2;
            }
        }
        (u64::from(hi) << 32) | u64::from(lo)
    }

    #[cold]
    fn refill(&mut self) {
        chacha8_blocks(&self.key, self.block, &mut self.words);
        self.block += 2;
    }
}

/// ChaCha's constant words ("expand 32-byte k").
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// One ChaCha quarter round on words `a`, `b`, `c`, `d` of `x`.
#[inline(always)]
fn quarter(x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(16);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(12);
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(8);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(7);
}

/// Blocks `block` and `block + 1` of the ChaCha8 key stream of `key` (stream 0, a 64-bit
/// block counter: `rand_chacha`'s layout), as 32 words, the two blocks' rounds interleaved so
/// that the processor works on both at once. Pinned to `rand_chacha` by a test.
#[inline]
fn chacha8_blocks(key: &[u32; 8], block: u64, out: &mut [u32; SEQUENCE_WORDS]) {
    let state = |b: u64| -> [u32; 16] {
        let mut s = [0u32; 16];
        s[..4].copy_from_slice(&SIGMA);
        s[4..12].copy_from_slice(key);
        s[12] = b as u32;
        s[13] = (b >> 32) as u32;
        s
    };
    let (s0, s1) = (state(block), state(block.wrapping_add(1)));
    let (mut x, mut y) = (s0, s1);
    // Eight rounds: four double rounds (columns, then diagonals), written out so that the
    // words stay in registers.
    for _ in 0..4 {
        quarter(&mut x, 0, 4, 8, 12);
        quarter(&mut y, 0, 4, 8, 12);
        quarter(&mut x, 1, 5, 9, 13);
        quarter(&mut y, 1, 5, 9, 13);
        quarter(&mut x, 2, 6, 10, 14);
        quarter(&mut y, 2, 6, 10, 14);
        quarter(&mut x, 3, 7, 11, 15);
        quarter(&mut y, 3, 7, 11, 15);
        quarter(&mut x, 0, 5, 10, 15);
        quarter(&mut y, 0, 5, 10, 15);
        quarter(&mut x, 1, 6, 11, 12);
        quarter(&mut y, 1, 6, 11, 12);
        quarter(&mut x, 2, 7, 8, 13);
        quarter(&mut y, 2, 7, 8, 13);
        quarter(&mut x, 3, 4, 9, 14);
        quarter(&mut y, 3, 4, 9, 14);
    }
    for i in 0..16 {
        out[i] = x[i].wrapping_add(s0[i]);
        out[16 + i] = y[i].wrapping_add(s1[i]);
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
            // Past several outputs of 32 words, so that refills are crossed too.
            for k in 0..100 {
                assert_eq!(seq.next_u64(), rng.next_u64(), "draw {k}");
            }
        }
        // Many keys, the dozen numbers a device's attributes take.
        for entity in 0..2_000 {
            let mut rng = s.stream(entity, Purpose(u64::from(entity) * 31));
            let mut seq = s.sequence(entity, Purpose(u64::from(entity) * 31));
            for k in 0..12 {
                assert_eq!(seq.next_u64(), rng.next_u64(), "entity {entity} draw {k}");
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
