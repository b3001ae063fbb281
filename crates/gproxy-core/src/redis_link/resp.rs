//! RESP2, the Redis wire format: commands encoded into one buffer without
//! intermediate allocations, replies parsed from a read buffer.

/// Room kept at the front of a command for its `*N\r\n` header, written
/// once the number of arguments is known.
const HEADER_ROOM: usize = 24;

/// One command, encoded as it goes.
#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    buf: Vec<u8>,
    args: usize,
    /// A script call's text, and where its `numkeys` starts (see
    /// [`Script`]).
    script: Option<(&'static str, usize)>,
}

impl Cmd {
    /// A command named `name` (`GET`, `SET`, ...).
    pub(crate) fn new(name: &str) -> Self {
        let mut cmd = Cmd::args();
        cmd.arg(name.as_bytes());
        cmd
    }

    /// Arguments with no command name yet: built once, then appended to
    /// commands with [`Cmd::encoded`] (see [`Cmd::encoded_args`]).
    pub(crate) fn args() -> Self {
        let mut buf = Vec::with_capacity(512);
        buf.resize(HEADER_ROOM, 0);
        Cmd {
            buf,
            args: 0,
            script: None,
        }
    }

    /// Appends one argument.
    pub(crate) fn arg(&mut self, value: &[u8]) -> &mut Self {
        self.length(value.len());
        self.buf.extend_from_slice(value);
        self.buf.extend_from_slice(b"\r\n");
        self.args += 1;
        self
    }

    /// Appends one argument made of `parts` put end to end (a key's
    /// prefix, name and suffix, without building the string first).
    pub(crate) fn parts(&mut self, parts: &[&[u8]]) -> &mut Self {
        self.length(parts.iter().map(|p| p.len()).sum());
        for p in parts {
            self.buf.extend_from_slice(p);
        }
        self.buf.extend_from_slice(b"\r\n");
        self.args += 1;
        self
    }

    /// Writes an argument's `$N\r\n`, with room for the argument.
    fn length(&mut self, len: usize) {
        let mut n = itoa::Buffer::new();
        let digits = n.format(len).as_bytes();
        self.buf.reserve(len + digits.len() + 5);
        self.buf.push(b'$');
        self.buf.extend_from_slice(digits);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// Appends `count` arguments already encoded (see [`Cmd::args`]).
    pub(crate) fn encoded(&mut self, args: &[u8], count: usize) -> &mut Self {
        self.buf.extend_from_slice(args);
        self.args += count;
        self
    }

    /// How many arguments have been appended.
    pub(crate) fn arg_count(&self) -> usize {
        self.args
    }

    /// The arguments as encoded, without the header.
    pub(crate) fn encoded_args(&self) -> &[u8] {
        &self.buf[HEADER_ROOM..]
    }

    /// Appends an integer argument.
    pub(crate) fn int(&mut self, value: impl itoa::Integer) -> &mut Self {
        let mut b = itoa::Buffer::new();
        let s = b.format(value);
        self.arg(s.as_bytes())
    }

    /// The command's bytes, header included.
    pub(crate) fn bytes(&mut self) -> &[u8] {
        let mut header = [0u8; HEADER_ROOM];
        let mut n = itoa::Buffer::new();
        let count = n.format(self.args).as_bytes();
        let len = 3 + count.len();
        header[0] = b'*';
        header[1..1 + count.len()].copy_from_slice(count);
        header[1 + count.len()..len].copy_from_slice(b"\r\n");
        let start = HEADER_ROOM - len;
        self.buf[start..HEADER_ROOM].copy_from_slice(&header[..len]);
        &self.buf[start..]
    }

    /// The same script call as `EVAL` with the script's text (when the
    /// server does not know the script's digest yet); `None` for any
    /// other command.
    pub(crate) fn as_eval(&self) -> Option<Cmd> {
        let (body, tail) = self.script?;
        let mut eval = Cmd::new("EVAL");
        eval.arg(body.as_bytes());
        eval.buf.extend_from_slice(&self.buf[tail..]);
        eval.args += self.args - 2;
        Some(eval)
    }
}

/// A Lua script, called by its SHA-1 digest (`EVALSHA`), sent whole once
/// when the server answers `NOSCRIPT`.
#[derive(Debug)]
pub(crate) struct Script {
    body: &'static str,
    sha: String,
}

impl Script {
    pub(crate) fn new(body: &'static str) -> Self {
        Script {
            body,
            sha: sha1_smol::Sha1::from(body).digest().to_string(),
        }
    }

    /// A call of the script with `keys` keys: append the keys, then the
    /// arguments.
    pub(crate) fn call(&self, keys: usize) -> Cmd {
        let mut cmd = Cmd::new("EVALSHA");
        cmd.arg(self.sha.as_bytes());
        cmd.script = Some((self.body, cmd.buf.len()));
        cmd.int(keys);
        cmd
    }
}

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `$-1` or `*-1`.
    Nil,
    /// `:n`.
    Int(i64),
    /// `$n` bulk data.
    Data(Vec<u8>),
    /// `+OK` and the like.
    Status(String),
    /// `-ERR ...`.
    Error(String),
    /// `*n`.
    Array(Vec<Reply>),
}

impl Reply {
    /// The reply as an integer (`:n`, or data holding one).
    pub(crate) fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Int(n) => Some(*n),
            Reply::Data(d) => std::str::from_utf8(d).ok()?.parse().ok(),
            _ => None,
        }
    }

    /// The reply as a list of integers (`nil` entries as 0).
    pub(crate) fn into_ints(self) -> Result<Vec<i64>, String> {
        match self {
            Reply::Array(items) => Ok(items.iter().map(|i| i.as_int().unwrap_or(0)).collect()),
            other => Err(format!("expected a list, got {}", other.kind())),
        }
    }

    /// What kind of reply this is, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Reply::Nil => "nil",
            Reply::Int(_) => "an integer",
            Reply::Data(_) => "data",
            Reply::Status(_) => "a status",
            Reply::Error(_) => "an error",
            Reply::Array(_) => "a list",
        }
    }
}

/// Deepest nesting accepted in a reply (the counters' scripts answer flat
/// lists; `SCAN` nests once).
const MAX_DEPTH: usize = 8;

/// Parses one reply from the start of `buf`: `Ok(None)` when `buf` does
/// not hold all of it yet, else the reply and how many bytes it took.
pub(crate) fn parse(buf: &[u8]) -> Result<Option<(Reply, usize)>, String> {
    parse_at(buf, 0, 0)
}

fn parse_at(buf: &[u8], at: usize, depth: usize) -> Result<Option<(Reply, usize)>, String> {
    // Reply lines are short: a plain scan beats a call to `memchr`.
    let Some(line_end) = buf
        .get(at..)
        .unwrap_or_default()
        .iter()
        .position(|b| *b == b'\n')
    else {
        return Ok(None);
    };
    let line_end = at + line_end;
    if line_end < at + 2 || buf[line_end - 1] != b'\r' {
        return Err("malformed reply line".into());
    }
    let kind = buf[at];
    let line = &buf[at + 1..line_end - 1];
    let next = line_end + 1;
    let text = || String::from_utf8_lossy(line).into_owned();
    let number = || -> Result<i64, String> {
        int(line).ok_or_else(|| format!("malformed number in a reply: {}", text()))
    };
    Ok(Some(match kind {
        b'+' => (Reply::Status(text()), next),
        b'-' => (Reply::Error(text()), next),
        b':' => (Reply::Int(number()?), next),
        b'$' => {
            let Ok(len) = usize::try_from(number()?) else {
                return Ok(Some((Reply::Nil, next)));
            };
            let end = next + len;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err("malformed data in a reply".into());
            }
            (Reply::Data(buf[next..end].to_vec()), end + 2)
        }
        b'*' => {
            let Ok(len) = usize::try_from(number()?) else {
                return Ok(Some((Reply::Nil, next)));
            };
            if depth >= MAX_DEPTH {
                return Err("a reply nested too deeply".into());
            }
            // Each element takes at least 3 bytes: no allocation larger
            // than what is buffered, whatever the count says.
            let mut items = Vec::with_capacity(len.min(buf.len().saturating_sub(next) / 3));
            let mut pos = next;
            for _ in 0..len {
                let Some((item, after)) = parse_at(buf, pos, depth + 1)? else {
                    return Ok(None);
                };
                items.push(item);
                pos = after;
            }
            (Reply::Array(items), pos)
        }
        other => return Err(format!("unknown reply type byte {other:#04x}")),
    }))
}

/// A decimal integer (what `:`, `$` and `*` lines hold), parsed by hand:
/// every reply has several and `str::parse` costs several times more.
fn int(digits: &[u8]) -> Option<i64> {
    let (negative, digits) = match digits {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, digits),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(if negative { -n } else { n })
}
