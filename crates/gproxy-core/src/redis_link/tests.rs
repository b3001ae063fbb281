use std::time::Duration;

use super::RedisLink;
use super::resp::{Cmd, Reply, Script, parse};

#[test]
fn a_command_is_a_resp_array_of_bulk_strings() {
    let mut cmd = Cmd::new("SET");
    cmd.parts(&[b"pre:", b"key", b":r"]).int(-42).arg(b"");
    assert_eq!(
        cmd.bytes(),
        b"*4\r\n$3\r\nSET\r\n$9\r\npre:key:r\r\n$3\r\n-42\r\n$0\r\n\r\n"
    );
    // Asking twice gives the same bytes.
    let first = cmd.bytes().to_vec();
    assert_eq!(cmd.bytes(), first);
}

#[test]
fn a_command_of_ten_or_more_arguments_has_a_two_digit_header() {
    let mut cmd = Cmd::new("DEL");
    for i in 0..11 {
        cmd.int(i);
    }
    assert!(cmd.bytes().starts_with(b"*12\r\n$3\r\nDEL\r\n$1\r\n0\r\n"));
}

#[test]
fn a_script_call_is_evalsha_and_becomes_eval_with_the_same_keys_and_arguments() {
    let script = Script::new("return 1");
    let mut call = script.call(1);
    call.arg(b"k").int(7);
    // SHA-1 of "return 1".
    let sha = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db";
    assert_eq!(
        call.bytes(),
        format!("*5\r\n$7\r\nEVALSHA\r\n$40\r\n{sha}\r\n$1\r\n1\r\n$1\r\nk\r\n$1\r\n7\r\n")
            .as_bytes()
    );
    let mut eval = call.as_eval().unwrap();
    assert_eq!(
        eval.bytes(),
        b"*5\r\n$4\r\nEVAL\r\n$8\r\nreturn 1\r\n$1\r\n1\r\n$1\r\nk\r\n$1\r\n7\r\n"
    );
    assert!(Cmd::new("GET").as_eval().is_none());
}

#[test]
fn every_reply_type_parses_and_says_how_much_it_took() {
    let cases: Vec<(&[u8], Reply)> = vec![
        (b"+OK\r\n", Reply::Status("OK".into())),
        (b"-ERR wrong\r\n", Reply::Error("ERR wrong".into())),
        (b":-12\r\n", Reply::Int(-12)),
        (b"$5\r\nhe\r\no\r\n", Reply::Data(b"he\r\no".to_vec())),
        (b"$0\r\n\r\n", Reply::Data(Vec::new())),
        (b"$-1\r\n", Reply::Nil),
        (b"*-1\r\n", Reply::Nil),
        (b"*0\r\n", Reply::Array(Vec::new())),
        (
            b"*2\r\n$1\r\n0\r\n*2\r\n:1\r\n$-1\r\n",
            Reply::Array(vec![
                Reply::Data(b"0".to_vec()),
                Reply::Array(vec![Reply::Int(1), Reply::Nil]),
            ]),
        ),
    ];
    for (wire, want) in cases {
        let mut buf = wire.to_vec();
        buf.extend_from_slice(b":9\r\n");
        assert_eq!(
            parse(&buf).unwrap(),
            Some((want, wire.len())),
            "{}",
            String::from_utf8_lossy(wire)
        );
    }
}

#[test]
fn a_reply_cut_anywhere_asks_for_more() {
    let wire = b"*3\r\n:1\r\n$4\r\nabcd\r\n*1\r\n+OK\r\n";
    for cut in 0..wire.len() {
        assert_eq!(parse(&wire[..cut]).unwrap(), None, "cut at {cut}");
    }
    assert!(parse(wire).unwrap().is_some());
}

#[test]
fn numbers_parse_in_range_and_not_beyond() {
    for (wire, want) in [
        (&b":0\r\n"[..], Some(0)),
        (b":-1\r\n", Some(-1)),
        (b":9223372036854775807\r\n", Some(i64::MAX)),
        (b":-9223372036854775807\r\n", Some(-i64::MAX)),
        (b":9223372036854775808\r\n", None),
        (b":-\r\n", None),
        (b":\r\n", None),
        (b":+1\r\n", None),
    ] {
        let got = parse(wire).ok().flatten().map(|(r, _)| r);
        assert_eq!(
            got,
            want.map(Reply::Int),
            "{}",
            String::from_utf8_lossy(wire)
        );
    }
}

#[test]
fn encoded_arguments_are_reused_as_they_are() {
    let mut keys = Cmd::args();
    keys.parts(&[b"p:", b"user:a", b":r"])
        .parts(&[b"p:", b"user:a", b":t"]);
    let encoded = keys.encoded_args().to_vec();
    assert_eq!(encoded, b"$10\r\np:user:a:r\r\n$10\r\np:user:a:t\r\n");
    let mut cmd = Cmd::new("DEL");
    cmd.encoded(&encoded, 2).int(1);
    assert_eq!(
        cmd.bytes(),
        b"*4\r\n$3\r\nDEL\r\n$10\r\np:user:a:r\r\n$10\r\np:user:a:t\r\n$1\r\n1\r\n"
    );
}

#[test]
fn malformed_replies_are_errors() {
    for wire in [
        &b"?x\r\n"[..],
        b":12a\r\n",
        b"$3\r\nabcXY",
        b"+OK\n",
        b"\r\n",
    ] {
        assert!(parse(wire).is_err(), "{}", String::from_utf8_lossy(wire));
    }
    // A count far beyond the buffer allocates nothing up front and waits.
    assert_eq!(parse(b"*999999999\r\n:1\r\n").unwrap(), None);
    let deep = "*1\r\n".repeat(20) + ":1\r\n";
    assert!(parse(deep.as_bytes()).is_err());
}

#[test]
fn integers_read_from_ints_and_from_data() {
    let r = Reply::Array(vec![Reply::Int(3), Reply::Data(b"-4".to_vec()), Reply::Nil]);
    assert_eq!(r.into_ints().unwrap(), vec![3, -4, 0]);
    assert!(Reply::Int(1).into_ints().is_err());
}

#[test]
fn urls_are_checked() {
    assert!(RedisLink::new("redis://127.0.0.1:6379/0").is_ok());
    assert!(RedisLink::new("redis://[::1]").is_ok());
    let e = RedisLink::new("rediss://host").unwrap_err();
    assert!(e.contains("TLS"), "{e}");
    let e = RedisLink::new("redis://host/x").unwrap_err();
    assert!(e.contains("database number"), "{e}");
    assert!(RedisLink::new("http://host").is_err());
    let link = RedisLink::new("redis://us%40er:p%2Bw@h:7000/3").unwrap();
    assert_eq!(link.pool.addr, "h:7000");
    let mut hello = link.pool.hello.clone();
    assert_eq!(
        hello[0].bytes(),
        b"*3\r\n$4\r\nAUTH\r\n$5\r\nus@er\r\n$3\r\np+w\r\n"
    );
    assert_eq!(hello[1].bytes(), b"*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n");
}

/// The Redis of `GPROXY_TEST_REDIS` (a missing one fails under `CI=true`).
pub(crate) async fn redis() -> Option<String> {
    let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    let Ok(url) = std::env::var("GPROXY_TEST_REDIS") else {
        assert!(!ci, "CI=true but GPROXY_TEST_REDIS is not set");
        return None;
    };
    let link = RedisLink::new(&url).unwrap();
    if let Err(e) = link.query(Cmd::new("PING"), Duration::from_secs(2)).await {
        assert!(!ci, "CI=true but Redis at {url} is unreachable: {e}");
        return None;
    }
    Some(url)
}

const T: Duration = Duration::from_secs(2);

#[tokio::test]
async fn commands_scripts_and_pipelines_against_a_real_redis() {
    let Some(url) = redis().await else { return };
    let link = RedisLink::new(&url).unwrap();
    let key = format!("gproxy-test-link:{}", crate::ratelimit::rand_seed());
    let mut set = Cmd::new("SET");
    set.arg(key.as_bytes())
        .arg(b"he\r\nllo")
        .arg(b"PX")
        .int(60_000);
    assert_eq!(
        link.query(set, T).await.unwrap(),
        Reply::Status("OK".into())
    );
    let mut get = Cmd::new("GET");
    get.arg(key.as_bytes());
    assert_eq!(
        link.query(get, T).await.unwrap(),
        Reply::Data(b"he\r\nllo".to_vec())
    );
    // A large value comes back whole across several reads.
    let big = vec![b'x'; 300_000];
    let mut set = Cmd::new("SET");
    set.arg(key.as_bytes()).arg(&big);
    link.query(set, T).await.unwrap();
    let mut get = Cmd::new("GET");
    get.arg(key.as_bytes());
    assert_eq!(link.query(get, T).await.unwrap(), Reply::Data(big));
    // An error reply is an error, and the connection stays usable.
    let mut wrong = Cmd::new("INCR");
    wrong.arg(key.as_bytes());
    let e = link.query(wrong, T).await.unwrap_err();
    assert!(e.contains("not an integer"), "{e}");
    // Pipelined: replies in order.
    let mut cmds = vec![Cmd::new("PING"), Cmd::new("DEL"), Cmd::new("EXISTS")];
    cmds[1].arg(key.as_bytes());
    cmds[2].arg(key.as_bytes());
    assert_eq!(
        link.exchange(&mut cmds, T).await.unwrap(),
        vec![Reply::Status("PONG".into()), Reply::Int(1), Reply::Int(0)]
    );
    // A script the server has not seen yet is sent whole, then by digest.
    let body: &'static str =
        Box::leak(format!("return {{KEYS[1], tonumber(ARGV[1]) + 1, '{key}'}}").into_boxed_str());
    let script = Script::new(body);
    for _ in 0..2 {
        let mut call = script.call(1);
        call.arg(b"k").int(41);
        assert_eq!(
            link.query(call, T).await.unwrap(),
            Reply::Array(vec![
                Reply::Data(b"k".to_vec()),
                Reply::Int(42),
                Reply::Data(key.clone().into_bytes()),
            ])
        );
    }
}

#[tokio::test]
async fn a_connection_the_server_closed_is_replaced_without_an_error() {
    let Some(url) = redis().await else { return };
    let link = RedisLink::new(&url).unwrap();
    let mut name = Cmd::new("CLIENT");
    name.arg(b"SETNAME").arg(b"gproxy-test-stale");
    link.query(name, T).await.unwrap();
    // Another connection kills this one, which then sits idle in the pool.
    let other = RedisLink::new(&url).unwrap();
    let mut kill = Cmd::new("CLIENT");
    kill.arg(b"KILL").arg(b"SKIPME").arg(b"yes");
    let mut list = Cmd::new("CLIENT");
    list.arg(b"LIST");
    let Reply::Data(clients) = other.query(list, T).await.unwrap() else {
        panic!("CLIENT LIST is data")
    };
    let clients = String::from_utf8(clients).unwrap();
    let id = clients
        .lines()
        .find(|l| l.contains("name=gproxy-test-stale"))
        .and_then(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
        .unwrap()
        .to_owned();
    let mut kill = Cmd::new("CLIENT");
    kill.arg(b"KILL").arg(b"ID").arg(id.as_bytes());
    assert_eq!(other.query(kill, T).await.unwrap(), Reply::Int(1));
    assert_eq!(
        link.query(Cmd::new("PING"), T).await.unwrap(),
        Reply::Status("PONG".into())
    );
}

#[tokio::test]
async fn an_unreachable_server_fails_within_the_timeout_then_at_once() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let link = RedisLink::new(&format!("redis://127.0.0.1:{port}")).unwrap();
    let e = link
        .query(Cmd::new("PING"), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(e.contains("cannot connect"), "{e}");
    let e = link
        .query(Cmd::new("PING"), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(
        e.contains("waiting before the next connection attempt"),
        "{e}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_and_its_connection_is_dropped() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let link = RedisLink::new(&format!("redis://127.0.0.1:{port}")).unwrap();
    let started = std::time::Instant::now();
    let e = link
        .query(Cmd::new("PING"), Duration::from_millis(200))
        .await
        .unwrap_err();
    assert_eq!(e, "timed out");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        link.pool.take_idle().is_none(),
        "a connection owing a reply is not reused"
    );
    accepted.abort();
}

#[tokio::test]
async fn a_queued_part_goes_out_ahead_of_the_next_call_even_with_a_new_script() {
    let Some(url) = redis().await else { return };
    let link = RedisLink::new(&url).unwrap();
    let counter = format!("gproxy-test-order:{}", crate::ratelimit::rand_seed());
    // A script the server has never seen (its text names the counter), so
    // the queued call meets `NOSCRIPT` and is sent again whole.
    let body: &'static str = Box::leak(format!("-- {counter}\n{ECHO}").into_boxed_str());
    let script = std::sync::Arc::new(link.script(body));
    let rx = echo_later(&link, &script, &counter, 7);
    // The next call finds the queued one already run, in order.
    assert_eq!(
        runs_in_order(&link, &counter).await,
        Reply::Data(b"1".to_vec())
    );
    assert_eq!(
        rx.await.unwrap().unwrap(),
        Reply::Array(vec![Reply::Int(1), Reply::Int(7), Reply::Int(1)])
    );
    // With no call after it, the flusher sends it.
    let rx = echo_later(&link, &script, &counter, 8);
    let reply = tokio::time::timeout(Duration::from_secs(1), rx)
        .await
        .unwrap();
    assert_eq!(
        reply.unwrap().unwrap(),
        Reply::Array(vec![Reply::Int(1), Reply::Int(8), Reply::Int(2)])
    );
}

/// A grouped script (the shape of [`super::Group`]'s calls) that answers
/// each part {parts in the call, the part's tag, how many times the
/// script has run on this test's counter}; each part's keys are the
/// counter, its arguments the tag.
pub(crate) const ECHO: &str = r"
local runs = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], 60000)
local n = tonumber(ARGV[1])
local out = {}
local ki, ai = 0, 1
for q = 1, n do
  local nk, na = tonumber(ARGV[ai+1]), tonumber(ARGV[ai+2])
  out[q] = {n, tonumber(ARGV[ai+3]), runs}
  ki = ki + nk
  ai = ai + 2 + na
end
return out
";

pub(crate) fn echo_part(counter: &str, tag: i64) -> super::Part {
    let mut keys = Cmd::args();
    keys.arg(counter.as_bytes());
    let mut args = Cmd::args();
    args.int(1).int(1).int(tag);
    super::Part { keys, args }
}

/// How many times [`ECHO`] ran on `counter`, read in order (after what
/// is queued on `link`).
async fn runs_in_order(link: &RedisLink, counter: &str) -> Reply {
    let mut get = Cmd::new("GET");
    get.arg(counter.as_bytes());
    link.query_in_order(get, T).await.unwrap()
}

/// Queues [`echo_part`] of `tag` on `link`; its reply.
fn echo_later(
    link: &RedisLink,
    script: &std::sync::Arc<super::Script>,
    counter: &str,
    tag: i64,
) -> tokio::sync::oneshot::Receiver<Result<Reply, String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    link.send_part_later(script, echo_part(counter, tag), move |reply| {
        let _ = tx.send(reply);
    });
    rx
}

/// A relay to the Redis at `url` that holds every answer back for
/// `delay`; its URL.
pub(crate) async fn slow(url: &str, delay: Duration) -> String {
    let target = url::Url::parse(url).unwrap();
    let target = format!(
        "{}:{}",
        target.host_str().unwrap(),
        target.port().unwrap_or(6379)
    );
    format!(
        "redis://{}",
        gproxy_testkit::slow_relay(target, delay).await.unwrap()
    )
}

#[tokio::test]
async fn calls_made_while_one_is_out_go_together_and_each_gets_its_own_reply() {
    let Some(url) = redis().await else { return };
    let link =
        std::sync::Arc::new(RedisLink::new(&slow(&url, Duration::from_millis(150)).await).unwrap());
    let group = std::sync::Arc::new(super::Group::new(link.script(ECHO)));
    let counter = format!("gproxy-test-group:{}", crate::ratelimit::rand_seed());
    let call = |tag: i64| {
        let (link, group, part) = (link.clone(), group.clone(), echo_part(&counter, tag));
        tokio::spawn(async move { group.call(&link, part, T).await })
    };
    let first = call(0);
    tokio::time::sleep(Duration::from_millis(40)).await;
    let rest: Vec<_> = (1..=10).map(call).collect();
    assert_eq!(
        first.await.unwrap().unwrap(),
        Reply::Array(vec![Reply::Int(1), Reply::Int(0), Reply::Int(1)])
    );
    for (tag, call) in (1..=10).zip(rest) {
        assert_eq!(
            call.await.unwrap().unwrap(),
            Reply::Array(vec![Reply::Int(10), Reply::Int(tag), Reply::Int(2)]),
            "part {tag}"
        );
    }
    let report = group.report();
    assert_eq!((report.calls, report.requests), (2, 11));
}

#[tokio::test]
async fn a_cancelled_sender_hands_the_group_on() {
    let Some(url) = redis().await else { return };
    let link =
        std::sync::Arc::new(RedisLink::new(&slow(&url, Duration::from_millis(200)).await).unwrap());
    let group = std::sync::Arc::new(super::Group::new(link.script(ECHO)));
    let counter = format!("gproxy-test-group-cancel:{}", crate::ratelimit::rand_seed());
    let call = |tag: i64| {
        let (link, group, part) = (link.clone(), group.clone(), echo_part(&counter, tag));
        tokio::spawn(async move { group.call(&link, part, T).await })
    };
    let first = call(0);
    tokio::time::sleep(Duration::from_millis(40)).await;
    let rest: Vec<_> = (1..=3).map(call).collect();
    tokio::time::sleep(Duration::from_millis(40)).await;
    // The first request goes away while its call is out: the ones waiting
    // behind it are sent all the same, together.
    first.abort();
    for (tag, call) in (1..=3).zip(rest) {
        let reply = tokio::time::timeout(Duration::from_secs(1), call)
            .await
            .expect("a waiter was left behind")
            .unwrap()
            .unwrap();
        assert_eq!(
            reply,
            Reply::Array(vec![Reply::Int(3), Reply::Int(tag), Reply::Int(2)])
        );
    }
    // And the group is idle again: the next call goes out at once, alone.
    let reply = call(4).await.unwrap().unwrap();
    assert_eq!(
        reply,
        Reply::Array(vec![Reply::Int(1), Reply::Int(4), Reply::Int(3)])
    );
}

#[tokio::test]
async fn a_waiter_out_of_time_before_its_turn_is_never_sent() {
    let Some(url) = redis().await else { return };
    let link =
        std::sync::Arc::new(RedisLink::new(&slow(&url, Duration::from_millis(300)).await).unwrap());
    let group = std::sync::Arc::new(super::Group::new(link.script(ECHO)));
    let counter = format!("gproxy-test-group-late:{}", crate::ratelimit::rand_seed());
    let first = {
        let (link, group, part) = (link.clone(), group.clone(), echo_part(&counter, 0));
        tokio::spawn(async move { group.call(&link, part, T).await })
    };
    tokio::time::sleep(Duration::from_millis(40)).await;
    let late = group
        .call(&link, echo_part(&counter, 1), Duration::from_millis(100))
        .await;
    assert_eq!(late, Err(super::group::NOT_SENT.to_owned()));
    first.await.unwrap().unwrap();
    // The script ran once, for the first call only.
    let direct = RedisLink::new(&url).unwrap();
    let mut get = Cmd::new("GET");
    get.arg(counter.as_bytes());
    assert_eq!(
        direct.query(get, T).await.unwrap(),
        Reply::Data(b"1".to_vec())
    );
    assert_eq!(group.report().requests, 1);
}

#[tokio::test]
async fn parts_queued_for_one_script_go_out_as_one_call_ahead_of_the_next() {
    let Some(url) = redis().await else { return };
    let link = RedisLink::new(&url).unwrap();
    let script = std::sync::Arc::new(link.script(ECHO));
    let counter = format!("gproxy-test-parts:{}", crate::ratelimit::rand_seed());
    let mut replies = Vec::new();
    for tag in 0..5 {
        let rx = echo_later(&link, &script, &counter, tag);
        replies.push(rx);
    }
    let mut get = Cmd::new("GET");
    get.arg(counter.as_bytes());
    // One run of the script, before the call that took the parts along.
    assert_eq!(
        link.query_in_order(get, T).await.unwrap(),
        Reply::Data(b"1".to_vec())
    );
    for (tag, rx) in (0..5).zip(replies) {
        assert_eq!(
            rx.await.unwrap().unwrap(),
            Reply::Array(vec![Reply::Int(5), Reply::Int(tag), Reply::Int(1)])
        );
    }
}

#[tokio::test]
async fn a_call_in_order_waits_for_the_queued_commands_on_their_way() {
    let Some(url) = redis().await else { return };
    // Every answer held back 200 ms.
    let link = RedisLink::new(&slow(&url, Duration::from_millis(200)).await).unwrap();
    let script = std::sync::Arc::new(link.script(ECHO));
    let counter = format!("gproxy-test-in-order:{}", crate::ratelimit::rand_seed());
    let (tx, rx) = tokio::sync::oneshot::channel();
    link.send_part_later(&script, echo_part(&counter, 1), move |reply| {
        let _ = tx.send((std::time::Instant::now(), reply));
    });
    // The flusher has sent it (after 5 ms) and waits for its answer.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut get = Cmd::new("GET");
    get.arg(counter.as_bytes());
    let asked = std::time::Instant::now();
    let reply = link.query_in_order(get, Duration::from_secs(3)).await;
    let answered = std::time::Instant::now();
    assert_eq!(reply.unwrap(), Reply::Data(b"1".to_vec()));
    let (settled, part) = rx.await.unwrap();
    part.unwrap();
    // Sent only once the queued call was answered (another connection
    // would have let it reach Redis first): two held-back answers, not one.
    assert!(settled < answered);
    assert!(
        answered - asked >= Duration::from_millis(300),
        "answered after {:?}: it did not wait",
        answered - asked
    );
}

#[tokio::test]
async fn a_lazy_part_is_written_when_the_queue_is_sent_and_may_send_nothing() {
    let Some(url) = redis().await else { return };
    let link = RedisLink::new(&url).unwrap();
    let script = std::sync::Arc::new(link.script(ECHO));
    let counter = format!("gproxy-test-lazy:{}", crate::ratelimit::rand_seed());
    // The tag is read when the part is written: what happens after it was
    // queued (here, the 9) goes in it.
    let tag = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(1));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (c, t) = (counter.clone(), tag.clone());
    link.send_lazy_part_later(
        &script,
        move || Some(echo_part(&c, t.load(std::sync::atomic::Ordering::SeqCst))),
        move |reply| {
            let _ = tx.send(reply);
        },
    );
    tag.store(9, std::sync::atomic::Ordering::SeqCst);
    // A part that has nothing to say when written is not sent, and its
    // `then` is never called.
    let (none_tx, mut none_rx) = tokio::sync::oneshot::channel::<()>();
    link.send_lazy_part_later(
        &script,
        || None,
        move |_| {
            let _ = none_tx.send(());
        },
    );
    assert_eq!(
        runs_in_order(&link, &counter).await,
        Reply::Data(b"1".to_vec())
    );
    assert_eq!(
        rx.await.unwrap().unwrap(),
        Reply::Array(vec![Reply::Int(1), Reply::Int(9), Reply::Int(1)])
    );
    assert!(matches!(
        none_rx.try_recv(),
        Err(tokio::sync::oneshot::error::TryRecvError::Closed)
    ));
}

#[test]
fn the_flusher_starts_again_on_another_runtime_when_its_own_is_gone() {
    let rt = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let Some(url) = rt().block_on(redis()) else {
        return;
    };
    let link = RedisLink::new(&url).unwrap();
    let script = std::sync::Arc::new(link.script(ECHO));
    let counter = format!("gproxy-test-flusher:{}", crate::ratelimit::rand_seed());
    // Sent by the flusher on a first runtime (no call follows it)...
    let send = |tag: i64| echo_later(&link, &script, &counter, tag);
    let first = rt();
    first.block_on(async {
        let reply = tokio::time::timeout(Duration::from_secs(1), send(1)).await;
        assert!(reply.unwrap().unwrap().is_ok());
    });
    // ... which then goes, with the flusher on it: the next part queued
    // from another runtime still goes out on its own.
    drop(first);
    rt().block_on(async {
        let reply = tokio::time::timeout(Duration::from_secs(1), send(2))
            .await
            .expect("the part was never sent");
        assert_eq!(
            reply.unwrap().unwrap(),
            Reply::Array(vec![Reply::Int(1), Reply::Int(2), Reply::Int(2)])
        );
    });
}
