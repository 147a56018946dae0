//! MD5 (consistent-hash allocation) and HMAC-SHA1 (ACL signatures).
//!
//! With `alloc` they are the `md-5`, `sha1` and `hmac` crates (unrolled rounds: the
//! fastest). Without it, the compact forms below: a microcontroller's flash counts
//! more than those microseconds, and the crates' unrolled rounds and wrappers take
//! about 6 KiB of it where these loops take about 1 KiB. Both give the same digests
//! (tested against each other and the RFC 1321 / RFC 2202 vectors).

#[cfg(feature = "alloc")]
mod imp {
    use hmac::{Hmac, Mac};
    use md5::Digest;

    /// MD5.
    pub(crate) struct Md5(md5::Md5);

    impl Md5 {
        pub(crate) fn new() -> Self {
            Md5(md5::Md5::new())
        }
        pub(crate) fn update(&mut self, data: &[u8]) {
            self.0.update(data);
        }
        pub(crate) fn finalize(self) -> [u8; 16] {
            self.0.finalize().into()
        }
    }

    /// HMAC-SHA1.
    pub(crate) struct HmacSha1(Hmac<sha1::Sha1>);

    impl HmacSha1 {
        /// `None` if the key is refused (HMAC takes keys of any length: never).
        pub(crate) fn new(key: &[u8]) -> Option<Self> {
            <Hmac<sha1::Sha1> as Mac>::new_from_slice(key)
                .ok()
                .map(HmacSha1)
        }
        pub(crate) fn update(&mut self, data: &[u8]) {
            self.0.update(data);
        }
        pub(crate) fn finalize(self) -> [u8; 20] {
            self.0.finalize().into_bytes().into()
        }
    }
}

#[cfg(feature = "alloc")]
pub(crate) use imp::{HmacSha1, Md5};
#[cfg(not(feature = "alloc"))]
pub(crate) use small::{HmacSha1, Md5};

#[cfg_attr(feature = "alloc", allow(dead_code))]
#[cfg(any(test, not(feature = "alloc")))]
mod small {
    /// A Merkle–Damgård hash over 64-byte blocks (MD5 and SHA-1 differ in their
    /// compression function, initial state and byte order).
    #[derive(Clone)]
    struct Blocks {
        state: [u32; 5],
        block: [u8; 64],
        fill: usize,
        /// Bytes hashed so far.
        len: u64,
        /// SHA-1 (big-endian words and length) or MD5 (little-endian).
        sha1: bool,
    }

    impl Blocks {
        fn new(sha1: bool) -> Self {
            Blocks {
                state: [
                    0x6745_2301,
                    0xEFCD_AB89,
                    0x98BA_DCFE,
                    0x1032_5476,
                    0xC3D2_E1F0,
                ],
                block: [0; 64],
                fill: 0,
                len: 0,
                sha1,
            }
        }

        fn update(&mut self, data: &[u8]) {
            self.len = self.len.wrapping_add(data.len() as u64);
            for &b in data {
                self.push(b);
            }
        }

        fn push(&mut self, b: u8) {
            if let Some(slot) = self.block.get_mut(self.fill) {
                *slot = b;
            }
            self.fill += 1;
            if self.fill == 64 {
                self.fill = 0;
                if self.sha1 {
                    sha1_compress(&mut self.state, &self.block);
                } else {
                    md5_compress(&mut self.state, &self.block);
                }
            }
        }

        /// Pad, and the state as bytes in the hash's order (MD5 uses the first 16).
        fn finalize(mut self) -> [u8; 20] {
            let bits = self.len.wrapping_mul(8);
            self.push(0x80);
            while self.fill != 56 {
                self.push(0);
            }
            let len = if self.sha1 {
                bits.to_be_bytes()
            } else {
                bits.to_le_bytes()
            };
            for b in len {
                self.push(b);
            }
            let mut out = [0u8; 20];
            for (o, w) in out.chunks_exact_mut(4).zip(self.state) {
                let b = if self.sha1 {
                    w.to_be_bytes()
                } else {
                    w.to_le_bytes()
                };
                for (o, b) in o.iter_mut().zip(b) {
                    *o = b;
                }
            }
            out
        }
    }

    /// Word `i` (mod 16) of the message schedule.
    fn at(w: &[u32; 16], i: usize) -> u32 {
        w.get(i & 15).copied().unwrap_or(0)
    }

    fn words(block: &[u8; 64], be: bool) -> [u32; 16] {
        let mut w = [0u32; 16];
        for (w, c) in w.iter_mut().zip(block.chunks_exact(4)) {
            let b: [u8; 4] = c.try_into().unwrap_or_default();
            *w = if be {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            };
        }
        w
    }

    fn sha1_compress(state: &mut [u32; 5], block: &[u8; 64]) {
        let mut w = words(block, true);
        let [mut a, mut b, mut c, mut d, mut e] = *state;
        for i in 0..80 {
            if i >= 16 {
                let x = at(&w, i + 13) ^ at(&w, i + 8) ^ at(&w, i + 2) ^ at(&w, i);
                if let Some(slot) = w.get_mut(i & 15) {
                    *slot = x.rotate_left(1);
                }
            }
            let (f, k) = match i / 20 {
                0 => ((b & c) | (!b & d), 0x5A82_7999),
                1 => (b ^ c ^ d, 0x6ED9_EBA1),
                2 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(at(&w, i));
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d, e]) {
            *s = s.wrapping_add(v);
        }
    }

    /// floor(|sin(i + 1)| * 2^32) (RFC 1321).
    const MD5_K: [u32; 64] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391,
    ];

    /// Rotations per round, four per round.
    const MD5_S: [u32; 16] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

    fn md5_compress(state: &mut [u32; 5], block: &[u8; 64]) {
        let m = words(block, false);
        let [mut a, mut b, mut c, mut d, _] = *state;
        for (i, k) in MD5_K.iter().enumerate() {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), 5 * i + 1),
                2 => (b ^ c ^ d, 3 * i + 5),
                _ => (c ^ (b | !d), 7 * i),
            };
            let s = MD5_S.get((i / 16) * 4 + i % 4).copied().unwrap_or(0);
            let t = d;
            d = c;
            c = b;
            b = b.wrapping_add(
                a.wrapping_add(f)
                    .wrapping_add(*k)
                    .wrapping_add(at(&m, g))
                    .rotate_left(s),
            );
            a = t;
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }

    /// MD5.
    pub(crate) struct Md5(Blocks);

    impl Md5 {
        pub(crate) fn new() -> Self {
            Md5(Blocks::new(false))
        }
        pub(crate) fn update(&mut self, data: &[u8]) {
            self.0.update(data);
        }
        pub(crate) fn finalize(self) -> [u8; 16] {
            let d = self.0.finalize();
            d.first_chunk::<16>().copied().unwrap_or_default()
        }
    }

    /// HMAC-SHA1 (RFC 2104).
    pub(crate) struct HmacSha1 {
        inner: Blocks,
        outer: Blocks,
    }

    impl HmacSha1 {
        /// `None` if the key is refused (HMAC takes keys of any length: never).
        pub(crate) fn new(key: &[u8]) -> Option<Self> {
            // A key longer than a block is replaced by its hash.
            let mut k = [0u8; 64];
            if key.len() > 64 {
                let mut h = Blocks::new(true);
                h.update(key);
                for (k, d) in k.iter_mut().zip(h.finalize()) {
                    *k = d;
                }
            } else {
                for (k, d) in k.iter_mut().zip(key) {
                    *k = *d;
                }
            }
            let (mut inner, mut outer) = (Blocks::new(true), Blocks::new(true));
            for b in k {
                inner.update(&[b ^ 0x36]);
                outer.update(&[b ^ 0x5c]);
            }
            Some(HmacSha1 { inner, outer })
        }
        pub(crate) fn update(&mut self, data: &[u8]) {
            self.inner.update(data);
        }
        pub(crate) fn finalize(self) -> [u8; 20] {
            let mut outer = self.outer;
            outer.update(&self.inner.finalize());
            outer.finalize()
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::small;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn md5_small(parts: &[&[u8]]) -> [u8; 16] {
        let mut h = small::Md5::new();
        for p in parts {
            h.update(p);
        }
        h.finalize()
    }

    fn hmac_small(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
        let mut h = small::HmacSha1::new(key).unwrap();
        for p in parts {
            h.update(p);
        }
        h.finalize()
    }

    fn md5_crate(data: &[u8]) -> [u8; 16] {
        use md5::Digest;
        md5::Md5::digest(data).into()
    }

    fn hmac_crate(key: &[u8], data: &[u8]) -> [u8; 20] {
        use hmac::{Hmac, Mac};
        let mut m = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key).unwrap();
        m.update(data);
        m.finalize().into_bytes().into()
    }

    fn hex(b: &[u8]) -> std::string::String {
        b.iter().map(|x| std::format!("{x:02x}")).collect()
    }

    #[test]
    fn md5_rfc1321_vectors() {
        for (input, want) in [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ] {
            assert_eq!(hex(&md5_small(&[input.as_bytes()])), want, "{input:?}");
        }
    }

    #[test]
    fn hmac_sha1_rfc2202_vectors() {
        assert_eq!(
            hex(&hmac_small(&[0x0b; 20], &[b"Hi There"])),
            "b617318655057264e28bc0b6fb378c8ef146be00"
        );
        assert_eq!(
            hex(&hmac_small(b"Jefe", &[b"what do ya want for nothing?"])),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        // A key longer than a block.
        assert_eq!(
            hex(&hmac_small(
                &[0xaa; 80],
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            )),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        );
    }

    proptest! {
        #[test]
        fn md5_matches_the_crate(data in proptest::collection::vec(any::<u8>(), 0..300), cut in 0usize..300) {
            let cut = cut.min(data.len());
            let (a, b) = data.split_at(cut);
            prop_assert_eq!(md5_small(&[a, b]), md5_crate(&data));
        }

        #[test]
        fn hmac_sha1_matches_the_crate(
            key in proptest::collection::vec(any::<u8>(), 0..150),
            data in proptest::collection::vec(any::<u8>(), 0..300),
            cut in 0usize..300,
        ) {
            let cut = cut.min(data.len());
            let (a, b) = data.split_at(cut);
            prop_assert_eq!(hmac_small(&key, &[a, b]), hmac_crate(&key, &data));
        }
    }

    #[test]
    fn the_build_s_forms_agree() {
        // Whichever implementation this build uses.
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let mut m = super::Md5::new();
        m.update(&data);
        assert_eq!(m.finalize(), md5_crate(&data));
        let mut h = super::HmacSha1::new(b"secret").unwrap();
        h.update(&data);
        assert_eq!(h.finalize(), hmac_crate(b"secret", &data));
    }
}
