//! `o200k_base` token counts from a compact table of its vocabulary.
//!
//! `tiktoken-rs`' encoder keeps the vocabulary three times (token to rank,
//! rank to token, and the tokens sorted), each token in an allocation of
//! its own, and a copy of its regex for each of 128 thread slots: 41 MB
//! resident once built (docs/benchmarks.md), for the life of the process.
//! Counting needs only the token-to-rank map. Here the tokens' bytes lie
//! in one buffer and the map holds where each starts, its length and its
//! rank (12 bytes a token). The table is filled from `tiktoken-rs`' encoder, which is then
//! dropped; the pieces and the merges follow tiktoken's byte-pair
//! encoding, so the counts are the same (tested against it).

use std::hash::BuildHasher;

use fancy_regex::Regex;
use hashbrown::{DefaultHashBuilder, HashTable};
use tiktoken_rs::{CoreBPE, Rank};

/// The ranks below which `o200k_base`'s tokens lie (its special tokens
/// come after its 199,998 ordinary ones).
const RANKS: Rank = 200_100;

/// The vocabulary's ordinary tokens and the text splitter.
pub(super) struct Bpe {
    /// Every token's bytes, one after the other.
    bytes: Box<[u8]>,
    /// Each token as where its bytes start in `bytes`, their length and
    /// its rank (12 bytes an entry), found by the hash of its bytes.
    ranks: HashTable<Token>,
    hasher: DefaultHashBuilder,
    pattern: Regex,
}

#[derive(Clone, Copy)]
struct Token {
    start: u32,
    len: u32,
    rank: Rank,
}

impl Bpe {
    /// The ordinary tokens of `core` (special tokens are counted as plain
    /// text, as `count_ordinary` does) and the splitter `pattern`.
    pub(super) fn new(core: &CoreBPE, pattern: &str) -> Result<Self, fancy_regex::Error> {
        let mut bytes = Vec::with_capacity(2 << 20);
        let mut tokens = Vec::with_capacity(RANKS as usize);
        for rank in 0..RANKS {
            let Ok(token) = core.decode_bytes(&[rank]) else {
                continue;
            };
            if is_special(&token, rank) {
                continue;
            }
            // A token is a few bytes; the vocabulary a few megabytes.
            let (Ok(start), Ok(len)) = (u32::try_from(bytes.len()), u32::try_from(token.len()))
            else {
                break;
            };
            tokens.push(Token { start, len, rank });
            bytes.extend_from_slice(&token);
        }
        let bytes = bytes.into_boxed_slice();
        let hasher = DefaultHashBuilder::default();
        let mut ranks = HashTable::with_capacity(tokens.len());
        for token in tokens {
            let hash = hasher.hash_one(span(&bytes, token));
            ranks.insert_unique(hash, token, |t| hasher.hash_one(span(&bytes, *t)));
        }
        Ok(Bpe {
            bytes,
            ranks,
            hasher,
            pattern: Regex::new(pattern)?,
        })
    }

    /// The rank of the token made of `piece`, if it is one.
    fn rank(&self, piece: &[u8]) -> Option<Rank> {
        let hash = self.hasher.hash_one(piece);
        self.ranks
            .find(hash, |t| span(&self.bytes, *t) == piece)
            .map(|t| t.rank)
    }

    /// Tokens in `text`: each piece the pattern splits off is one token
    /// when it is one, else the tokens its bytes merge into.
    pub(super) fn count(&self, text: &str) -> usize {
        let mut count = 0;
        let mut end = 0;
        for piece in self.pattern.find_iter(text) {
            let Ok(piece) = piece else {
                // The regex gave up (its backtracking limit): the rest is
                // estimated at four bytes per token.
                return count + (text.len() - end).div_ceil(4);
            };
            end = piece.end();
            let piece = piece.as_str().as_bytes();
            count += if self.rank(piece).is_some() {
                1
            } else {
                self.merged(piece)
            };
        }
        count
    }

    /// How many tokens `piece` merges into: starting from its bytes, the
    /// adjacent pair whose joined bytes have the lowest rank is merged,
    /// until no adjacent pair is a token.
    fn merged(&self, piece: &[u8]) -> usize {
        if piece.len() < 2 {
            return piece.len();
        }
        let rank = |bytes: &[u8]| self.rank(bytes).unwrap_or(Rank::MAX);
        // Where each part starts, and the rank of it joined with the next
        // part (`Rank::MAX`: not a token); the last entry is the end.
        let mut parts: Vec<(usize, Rank)> = (0..piece.len())
            .map(|i| (i, piece.get(i..i + 2).map_or(Rank::MAX, rank)))
            .collect();
        parts.push((piece.len(), Rank::MAX));
        while let Some((i, _)) = parts[..parts.len() - 1]
            .iter()
            .enumerate()
            .filter(|(_, (_, r))| *r != Rank::MAX)
            .min_by_key(|(i, (_, r))| (*r, *i))
        {
            // Part `i` absorbs part `i + 1`; the pairs around it change.
            parts.remove(i + 1);
            let joined = |parts: &[(usize, Rank)], at: usize| match parts.get(at + 2) {
                Some(&(end, _)) => rank(&piece[parts[at].0..end]),
                None => Rank::MAX,
            };
            parts[i].1 = joined(&parts, i);
            if i > 0 {
                parts[i - 1].1 = joined(&parts, i - 1);
            }
        }
        parts.len() - 1
    }
}

/// The bytes of `token`.
fn span(bytes: &[u8], token: Token) -> &[u8] {
    let start = token.start as usize;
    &bytes[start..start + token.len as usize]
}

/// A special token (`<|endoftext|>`, `<|endofprompt|>`): past the
/// ordinary ones and written as `<|…|>`.
fn is_special(token: &[u8], rank: Rank) -> bool {
    rank >= 199_990 && token.starts_with(b"<|") && token.ends_with(b"|>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_tiktokens() {
        let core = tiktoken_rs::o200k_base().unwrap();
        let bpe = Bpe::new(&core, tiktoken_rs::O200K_BASE_PAT_STR).unwrap();
        let mut texts: Vec<String> = [
            "",
            "hello world",
            "Hello, world!",
            "  leading and trailing spaces   ",
            "tabs\tand\nnew\r\nlines\n\n\n",
            "I'm sure they'll've said WE'RE done; it's John's.",
            "1234567890 3.14159 -42 1e10 0x1F 2026-12-06",
            "fn main() { let x: Vec<u8> = vec![1, 2, 3]; println!(\"{x:?}\"); }",
            "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
            "Grüße aus Köln, señor! Ça va? Ελληνικά, русский текст.",
            "日本語のテキストと中文文本，还有한국어 문장。",
            "emoji 👍🏽 family 👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵",
            "<|endoftext|> is plain text here <|endofprompt|>",
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzqqqqqqqqqqqqxxxxxxxx",
            "supercalifragilisticexpialidocious antidisestablishmentarianism",
            "\u{0}\u{1}\u{7f} control\u{200b}zero width",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        texts.push("The quick brown fox jumps over the lazy dog. ".repeat(200));
        // Bytes of every kind, as text.
        texts.push((0u32..3000).filter_map(char::from_u32).collect());
        for text in &texts {
            assert_eq!(
                bpe.count(text),
                core.encode_ordinary(text).len(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn the_table_holds_the_ordinary_tokens_only() {
        let core = tiktoken_rs::o200k_base().unwrap();
        let bpe = Bpe::new(&core, tiktoken_rs::O200K_BASE_PAT_STR).unwrap();
        assert!(bpe.ranks.len() > 199_000, "{}", bpe.ranks.len());
        assert!(bpe.rank(b"<|endoftext|>").is_none());
        assert_eq!(
            bpe.rank(b"hello").as_ref(),
            core.encode_ordinary("hello").first()
        );
    }
}
