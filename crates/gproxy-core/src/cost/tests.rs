//! The pricing arithmetic against hand-computed cases.

use std::str::FromStr;

use super::*;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn usage(input: u64, output: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        ..Usage::default()
    }
}

fn spec(json: &str) -> PriceSpec {
    serde_json::from_str(json).unwrap()
}

fn over(provider: &str, model: &str, json: &str) -> PriceOverride {
    PriceOverride {
        provider: provider.into(),
        model: model.into(),
        price: spec(json),
    }
}

#[test]
fn embedded_catalogue_is_valid_and_dated() {
    let doc = CatalogueDocument::parse(EMBEDDED_CATALOGUE).unwrap();
    assert!(!doc.version.is_empty());
    let catalogue = Catalogue::parse(EMBEDDED_CATALOGUE).unwrap();
    assert!(catalogue.len() > 10);
    for p in catalogue.providers() {
        assert!(
            p.source.starts_with("https://"),
            "{} has no source",
            p.kinds[0]
        );
        assert!(!p.checked.is_empty());
        for m in &p.models {
            m.price.resolve().unwrap();
        }
    }
    assert_eq!(Catalogue::embedded().version(), doc.version);
}

#[test]
fn openai_cached_tokens_are_inside_the_prompt() {
    let book = PriceBook::default();
    // gpt-4o: $2.50 in, $1.25 cached, $10 out per million.
    // 1000 prompt of which 400 cached, 100 out:
    // 600 × 2.5/1e6 = 0.0015; 400 × 1.25/1e6 = 0.0005; 100 × 10/1e6 = 0.001.
    let u = Usage {
        cache_read_tokens: 400,
        ..usage(1000, 100)
    };
    assert_eq!(
        book.cost("openai", "openai", "gpt-4o", &u),
        Some(d("0.003"))
    );
    // Reasoning is inside the completion: billed once, at the output price.
    let r = Usage {
        reasoning_tokens: 60,
        ..usage(1000, 100)
    };
    assert_eq!(
        book.cost("openai", "openai", "gpt-4o", &r),
        Some(d("0.0035"))
    );
}

#[test]
fn anthropic_cache_reads_and_writes_are_outside_the_input() {
    let book = PriceBook::default();
    // claude-opus-4-1: 15 in, 1.50 read, 18.75 write 5m, 30 write 1h, 75 out.
    // input 100: 0.0015; read 1000: 0.0015; writes 300 of which 200 one-hour:
    // 100 × 18.75/1e6 = 0.001875, 200 × 30/1e6 = 0.006; output 10: 0.00075.
    let u = Usage {
        input_tokens: 100,
        output_tokens: 10,
        cache_read_tokens: 1000,
        cache_write_tokens: 300,
        cache_write_1h_tokens: 200,
        reasoning_tokens: 0,
    };
    assert_eq!(
        book.cost("anthropic", "claude", "claude-opus-4-1-20250805", &u),
        Some(d("0.011625"))
    );
    let m = book
        .lookup("anthropic", "claude", "claude-opus-4-1-20250805")
        .unwrap();
    let b = m.price.breakdown(&u, UsageSemantics::Anthropic).unwrap();
    let kinds: Vec<_> = b.lines.iter().map(|l| (l.kind, l.tokens)).collect();
    assert_eq!(
        kinds,
        [
            ("input", 100),
            ("cache_read", 1000),
            ("cache_write_5m", 100),
            ("cache_write_1h", 200),
            ("output", 10)
        ]
    );
    assert_eq!(b.prompt_tokens, 1400);
}

#[test]
fn gemini_thoughts_are_billed_as_output_and_long_context_reprices_everything() {
    let book = PriceBook::default();
    // gemini-2.5-pro: 1.25 / 10 up to 200k prompt tokens, 2.50 / 15 above.
    // 1000 prompt, 100 candidates, 50 thoughts: 1000 × 1.25/1e6 = 0.00125,
    // 150 × 10/1e6 = 0.0015.
    let u = Usage {
        reasoning_tokens: 50,
        ..usage(1000, 100)
    };
    assert_eq!(
        book.cost("gemini", "aistudio", "gemini-2.5-pro", &u),
        Some(d("0.00275"))
    );
    // Exactly 200k stays on the base tier: 200000 × 1.25/1e6 = 0.25.
    assert_eq!(
        book.cost(
            "gemini",
            "aistudio",
            "models/gemini-2.5-pro",
            &usage(200_000, 0)
        ),
        Some(d("0.25"))
    );
    // 200001 re-prices the whole request: 200001 × 2.5/1e6 = 0.5000025,
    // 1000 × 15/1e6 = 0.015.
    assert_eq!(
        book.cost(
            "gemini",
            "aistudio",
            "gemini-2.5-pro",
            &usage(200_001, 1000)
        ),
        Some(d("0.5150025"))
    );
}

#[test]
fn anthropic_tier_counts_cached_prompt_tokens() {
    let book = PriceBook::default();
    // claude-sonnet-4: 3 / 15, above 200k prompt 6 / 22.50. A prompt of
    // 1000 input + 199500 cache reads is 200500 tokens: tier prices input
    // (1000 × 6/1e6 = 0.006) and output (100 × 22.5/1e6 = 0.00225); cache
    // reads keep their base price (199500 × 0.30/1e6 = 0.05985).
    let u = Usage {
        cache_read_tokens: 199_500,
        ..usage(1000, 100)
    };
    assert_eq!(
        book.cost("c", "claude", "claude-sonnet-4-20250514", &u),
        Some(d("0.0681"))
    );
}

#[test]
fn unknown_models_and_unpriced_token_kinds_have_no_cost() {
    let book = PriceBook::default();
    assert_eq!(
        book.cost("x", "openai", "no-such-model", &usage(10, 10)),
        None
    );
    // Known model, wrong kind: the catalogue is per provider kind.
    assert_eq!(book.cost("x", "groq", "gpt-4o", &usage(10, 10)), None);
    // gpt-4.1's cached price is not in the catalogue: a usage with cache
    // reads is unknown, one without is priced (10 × 2/1e6 + 10 × 8/1e6).
    assert_eq!(
        book.cost("o", "openai", "gpt-4.1", &usage(10, 10)),
        Some(d("0.0001"))
    );
    let cached = Usage {
        cache_read_tokens: 5,
        ..usage(10, 10)
    };
    assert_eq!(book.cost("o", "openai", "gpt-4.1", &cached), None);
    assert_eq!(
        book.estimate_nanos("x", "openai", "no-such-model", 1, 1),
        None
    );
}

#[test]
fn per_request_fee_and_reasoning_priced_apart() {
    let o = over(
        "*",
        "r1",
        r#"{"input":"1","output":"2","reasoning":"4","per_request":"0.01"}"#,
    );
    let book = PriceBook::new(Catalogue::embedded(), &[o]);
    // OpenAI semantics: 100 output of which 40 reasoning.
    // 1000 × 1/1e6 + 60 × 2/1e6 + 40 × 4/1e6 + 0.01 = 0.001 + 0.00012 + 0.00016 + 0.01.
    let u = Usage {
        reasoning_tokens: 40,
        ..usage(1000, 100)
    };
    assert_eq!(book.cost("p", "openai", "r1", &u), Some(d("0.01128")));
    // Gemini semantics: the 40 thoughts are outside the 100 candidates.
    assert_eq!(
        book.cost_with("p", "aistudio", "r1", &u, UsageSemantics::Gemini),
        Some(d("0.01136"))
    );
}

#[test]
fn override_precedence_is_provider_then_model_specificity() {
    let overrides = [
        over("*", "*", r#"{"input":"100","output":"100"}"#),
        over("*", "gpt-4o*", r#"{"input":"1","output":"1"}"#),
        over("*", "gpt-4o-mini*", r#"{"input":"2","output":"2"}"#),
        over("*", "gpt-4o-mini", r#"{"input":"3","output":"3"}"#),
        over("work", "gpt-*", r#"{"input":"4","output":"4"}"#),
    ];
    let book = PriceBook::new(Catalogue::embedded(), &overrides);
    let one_m = usage(1_000_000, 0);
    let cost = |p: &str, m: &str| book.cost(p, "openai", m, &one_m);
    assert_eq!(cost("openai", "gpt-4o-2024-08-06"), Some(d("1")));
    assert_eq!(cost("openai", "gpt-4o-mini-2024-07-18"), Some(d("2")));
    assert_eq!(cost("openai", "gpt-4o-mini"), Some(d("3")));
    assert_eq!(cost("openai", "llama"), Some(d("100")));
    // An exact provider name beats any provider wildcard.
    assert_eq!(cost("work", "gpt-4o-mini"), Some(d("4")));
    let m = book.lookup("work", "openai", "gpt-4o").unwrap();
    assert!(m.overridden);
    assert_eq!(
        m.origin(),
        PriceOrigin::Override {
            provider: "work".into(),
            model: "gpt-*".into()
        }
    );
    assert_eq!(book.version_of(&m), format!("{}+override", book.version()));
    // Without overrides the catalogue prices it.
    let plain = PriceBook::default();
    let m = plain.lookup("openai", "openai", "gpt-4o").unwrap();
    assert!(!m.overridden);
    assert_eq!(plain.version_of(&m), plain.version());
}

#[test]
fn estimate_is_input_plus_max_output_at_the_tier() {
    let book = PriceBook::default();
    // gpt-4o: 1000 × 2.5/1e6 + 500 × 10/1e6 = 0.0025 + 0.005.
    assert_eq!(
        book.estimate_nanos("o", "openai", "gpt-4o", 1000, 500),
        Some(7_500_000)
    );
    // gemini-2.5-pro above 200k: 300000 × 2.5/1e6 + 1000 × 15/1e6.
    assert_eq!(
        book.estimate_nanos("g", "aistudio", "gemini-2.5-pro", 300_000, 1000),
        Some(765_000_000)
    );
}

#[test]
fn rounding_and_nanos() {
    // 1 token at 0.075 per million = 0.000000075: kept at nine places.
    let o = over("*", "m", r#"{"input":"0.075","output":"0.0375"}"#);
    let book = PriceBook::new(Catalogue::embedded(), &[o]);
    assert_eq!(
        book.cost("p", "openai", "m", &usage(1, 0)),
        Some(d("0.000000075"))
    );
    // 1 output token at 0.0375: 0.0000000375 rounds half away to 0.000000038.
    assert_eq!(
        book.cost("p", "openai", "m", &usage(0, 1)),
        Some(d("0.000000038"))
    );
    assert_eq!(to_nanos(d("0.0035")), Some(3_500_000));
    assert_eq!(from_nanos(3_500_000), d("0.0035"));
}

#[test]
fn patterns() {
    let p = Pattern::new("gpt-4o*");
    assert!(p.matches("gpt-4o") && p.matches("gpt-4o-mini") && !p.matches("gpt-4"));
    let p = Pattern::new("*-mini*");
    assert!(p.matches("gpt-4o-mini-2024") && p.matches("o3-mini") && !p.matches("mini"));
    let p = Pattern::new("a*b*c");
    assert!(p.matches("abc") && p.matches("a-b-c") && !p.matches("a-c-b") && !p.matches("ab"));
    assert!(Pattern::new("*").matches(""));
    assert!(Pattern::new("x").matches("x") && !Pattern::new("x").matches("xy"));
}

#[test]
fn bad_documents_are_refused_with_a_path() {
    let e = Catalogue::parse(r#"{"version":"v","providers":[]}"#).unwrap_err();
    assert!(e.to_string().contains("providers"), "{e}");
    let e = Catalogue::parse(
        r#"{"version":"v","providers":[{"kinds":["openai"],"source":"s","checked":"c",
            "models":[{"model":"m","input":"-1","output":"1"}]}]}"#,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "providers[0].models[0].input: must not be negative"
    );
    let e = Catalogue::parse(
        r#"{"version":"v","providers":[{"kinds":["openai"],"source":"s","checked":"c",
            "models":[{"model":"m","input":"abc","output":"1"}]}]}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("not a decimal"), "{e}");
    assert!(Catalogue::parse("[1]").is_err());
    let o = over("*", "", r#"{"input":"1","output":"1"}"#);
    assert_eq!(o.validate().unwrap_err().path, "model");
    let o = over(
        "*",
        "m",
        r#"{"input":"1","output":"1","tiers":[{"above":5},{"above":5}]}"#,
    );
    assert_eq!(o.validate().unwrap_err().path, "tiers[1].above");
    // Unknown fields are refused, also next to the flattened prices.
    let e = serde_json::from_str::<PriceOverride>(
        r#"{"model":"m","input":"1","output":"1","cache_reed":"1"}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("cache_reed"), "{e}");
    let o: PriceOverride =
        serde_json::from_str(r#"{"model":"m","input":"1","output":"1"}"#).unwrap();
    assert_eq!(o.provider, "*");
    // Numbers are read through their decimal form, exactly.
    let s: PriceSpec = serde_json::from_str(r#"{"input":0.1,"output":3}"#).unwrap();
    assert_eq!(s.resolve().unwrap().input, d("0.1"));
}

#[test]
fn remembered_lookups_answer_as_a_fresh_search() {
    let book = PriceBook::new(
        Catalogue::embedded(),
        &[over("local", "*", r#"{"input": "0", "output": "0"}"#)],
    );
    let cases = [
        ("openai", "openai", "gpt-4o"),
        ("openai", "openai", "models/gpt-4o"),
        ("claude", "claude", "claude-opus-4-1-20250805"),
        ("local", "custom", "anything"),
        ("openai", "openai", "gpt-unknown"),
    ];
    for _ in 0..2 {
        for (provider, kind, model) in cases {
            let remembered = book
                .lookup(provider, kind, model)
                .map(|m| (m.origin(), m.price.clone()));
            let searched = match book.find(provider, kind, model.trim_start_matches("models/")) {
                Found::Override(i) => Some((
                    PriceOrigin::Override {
                        provider: book.overrides[i].provider.source.clone(),
                        model: book.overrides[i].model.source.clone(),
                    },
                    book.overrides[i].price.clone(),
                )),
                Found::Catalogue(i) => Some((
                    PriceOrigin::Catalogue {
                        model: book.catalogue.entries[i].model.source.clone(),
                    },
                    book.catalogue.entries[i].price.clone(),
                )),
                Found::Unknown => None,
            };
            assert_eq!(remembered, searched, "{provider} {kind} {model}");
        }
    }
    assert!(book.lookup("openai", "openai", "gpt-unknown").is_none());
    assert!(book.lookup("local", "custom", "x").unwrap().overridden);
}

#[test]
fn per_million_is_the_exact_division() {
    for s in [
        "0",
        "1",
        "2.5",
        "0.075",
        "123456789.123456789",
        "3.1415926535897932384626",
    ] {
        let v = d(s);
        for tokens in [0u64, 1, 7, 999_999, 1_000_000, 123_456_789] {
            let product = Decimal::from(tokens) * v;
            assert_eq!(
                super::price::per_million(product),
                product / Decimal::from(1_000_000),
                "{tokens} × {s}"
            );
        }
    }
}

/// Every model price of the embedded catalogue.
fn catalogue_prices() -> Vec<ModelPrice> {
    Catalogue::embedded()
        .providers()
        .iter()
        .flat_map(|p| p.models.iter().map(|m| m.price.resolve().unwrap()))
        .collect()
}

#[test]
fn the_estimate_in_nanos_is_the_decimal_estimate_rounded_alike() {
    let mut prices = catalogue_prices();
    // Odd scales, a fee, a tier, and halves that round away from zero.
    for json in [
        r#"{"input": "0.000000000001", "output": "0.0000005"}"#,
        r#"{"input": "1.23456789", "output": "7", "per_request": "0.0000000015"}"#,
        r#"{"input": "2", "output": "8", "tiers": [{"above": 100, "input": "4.5"}]}"#,
    ] {
        prices.push(spec(json).resolve().unwrap());
    }
    let counts = [0u64, 1, 3, 999, 1_000, 123_457, 200_001, 5_000_000];
    for price in &prices {
        for &input in &counts {
            for &output in &counts {
                let decimal = to_nanos(price.estimate(input, output).total);
                assert_eq!(
                    price.estimate_nanos(input, output),
                    decimal,
                    "{price:?} {input} {output}"
                );
            }
        }
    }
    // A price past twelve places goes the decimal way, to the same number.
    let fine = spec(r#"{"input": "0.0000000000001", "output": "1"}"#)
        .resolve()
        .unwrap();
    assert!(
        fine.parts(&usage(10, 10), UsageSemantics::OpenAi)
            .unwrap()
            .integer_nanos()
            .is_none()
    );
    assert_eq!(fine.estimate_nanos(10, 10), Some(10_000));
    assert_eq!(
        fine.estimate_nanos(10, 10),
        to_nanos(fine.estimate(10, 10).total)
    );
    let book = PriceBook::default();
    assert_eq!(
        book.estimate_nanos("o", "openai", "gpt-4o", 1000, 500),
        Some(7_500_000)
    );
    assert_eq!(
        book.estimate_nanos("o", "openai", "no-such-model", 1, 1),
        None
    );
}

#[test]
fn the_cost_in_nanos_is_the_breakdown_total_rounded_alike() {
    let mut prices = catalogue_prices();
    prices.push(
        spec(r#"{"input": "3", "output": "15", "cache_read": "0.3", "cache_write_5m": "3.75", "cache_write_1h": "6", "reasoning": "20", "per_request": "0.0000000005"}"#)
            .resolve()
            .unwrap(),
    );
    let usages = [
        usage(0, 0),
        usage(1, 1),
        usage(123_457, 999),
        Usage {
            input_tokens: 300_001,
            output_tokens: 7_000,
            cache_read_tokens: 100_000,
            cache_write_tokens: 3_333,
            cache_write_1h_tokens: 1_111,
            reasoning_tokens: 2_500,
        },
        Usage {
            input_tokens: 10,
            output_tokens: 3,
            cache_read_tokens: 7,
            reasoning_tokens: 1,
            ..Usage::default()
        },
    ];
    let mut priced = 0;
    for price in &prices {
        for u in &usages {
            for semantics in [
                UsageSemantics::OpenAi,
                UsageSemantics::Anthropic,
                UsageSemantics::Gemini,
            ] {
                let decimal = price.breakdown(u, semantics).map(|b| b.total);
                let nanos = price.cost_nanos(u, semantics);
                assert_eq!(
                    nanos,
                    decimal.and_then(to_nanos),
                    "{price:?} {u:?} {semantics:?}"
                );
                priced += usize::from(nanos.is_some());
            }
        }
    }
    assert!(priced > 100, "{priced}");
}

#[test]
fn usd_text_is_what_the_decimal_prints() {
    let mut buf = [0u8; USD_TEXT_MAX];
    for n in [
        0,
        1,
        7_500_000,
        10,
        1_000_000_000,
        1_234_567_891,
        765_000_000,
        -5,
        -1_500_000_000,
        i64::MAX,
        i64::MIN,
    ] {
        let text = std::str::from_utf8(usd_text(n, &mut buf))
            .unwrap()
            .to_owned();
        assert_eq!(text, from_nanos(n).to_string(), "{n}");
    }
}

#[test]
fn a_lookup_is_remembered_and_found_again_without_a_key_built() {
    let book = PriceBook::default();
    let first = book.lookup("o", "openai", "gpt-4o").unwrap().price.clone();
    let memo = |book: &PriceBook| book.memo.read().unwrap().len();
    assert_eq!(memo(&book), 1);
    // The borrowed query hashes and compares as the stored key does.
    assert!(
        book.memo
            .read()
            .unwrap()
            .get(&MemoQuery("o", "openai", "gpt-4o"))
            .is_some()
    );
    assert_eq!(*book.lookup("o", "openai", "gpt-4o").unwrap().price, first);
    assert_eq!(
        *book.lookup("o", "openai", "models/gpt-4o").unwrap().price,
        first
    );
    assert_eq!(memo(&book), 1);
    assert!(book.lookup("o", "openai", "no-such-model").is_none());
    assert_eq!(memo(&book), 2);
}
