//! Redaction of one text: secrets first (so that a token with digits is not half-redacted as a
//! phone number), then e-mail addresses, card numbers and SSNs (see [`super::digits`]), then
//! phone numbers. Each pattern is compiled once; text that cannot hold any of them (short, and
//! without digits or the characters secrets and addresses are made of) is not scanned at all.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::{PiiKind, digits};

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a constant pattern that the tests compile")
}

// ASCII word boundaries (secrets are ASCII) let the fast regex engines run on any text.
static SECRETS: LazyLock<Regex> = LazyLock::new(|| {
    regex(concat!(
        // A key cut off before its END line is a secret to the end of the text.
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\z)",
        r"|(?-u:\b)oak_(?:live|tok)_[A-Za-z0-9_.\-]+",
        r"|(?-u:\b)whsec_[A-Za-z0-9+/=]+",
        r"|(?-u:\b)(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{10,}",
        r"|(?-u:\b)sk-[A-Za-z0-9_\-]{20,}",
        r"|(?-u:\b)gh[pousr]_[A-Za-z0-9]{30,}|(?-u:\b)github_pat_[A-Za-z0-9_]{20,}",
        r"|(?-u:\b)(?:AKIA|ASIA)[0-9A-Z]{16}(?-u:\b)",
        r"|(?-u:\b)xox[abprs]-[A-Za-z0-9\-]{10,}",
        r"|(?-u:\b)glpat-[A-Za-z0-9_\-]{20,}",
        r"|(?-u:\b)AIza[0-9A-Za-z_\-]{35}",
        r"|(?-u:\b)eyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}",
        r"|(?i:(?-u:\b)bearer\s+)[A-Za-z0-9._~+/\-]{16,}=*",
    ))
});

/// `password=…`, `api_key: …`, `client_secret=…` and the like inside free text: the value is the
/// secret.
static ASSIGNED_SECRETS: LazyLock<Regex> = LazyLock::new(|| {
    regex(concat!(
        r#"(?i)(?-u:\b)((?:[a-z0-9]+[_\-])*"#,
        r#"(?:api[_\-]?key|access[_\-]?key|private[_\-]?key|secret|token|password|passwd|passphrase|pwd|credentials?)"#,
        r#"["']?\s*[:=]\s*["']?)([^\s"',;]{6,})"#,
    ))
});

/// A number right after a word that names it (`SSN 078051120`, `phone: 4155550100`), which its
/// digits alone would not give away.
static LABELLED_NUMBERS: LazyLock<Regex> = LazyLock::new(|| {
    regex(concat!(
        r"(?i)(?-u:\b)((ssn|social[\s_\-]?security(?:[\s_\-]?(?:number|no))?)",
        r"|(?:phone(?:[\s_\-]?(?:number|no))?|tel|telephone|mobile|cell(?:phone)?|fax))",
        r"(?-u:\b)([^\w\n]{0,4})(\+?[0-9]{7,15})(?-u:\b)",
    ))
});

/// Addresses in any script (`\w` is Unicode-aware): `jäne@exämple.de` is found whole.
static EMAILS: LazyLock<Regex> = LazyLock::new(|| regex(r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.(?:xn--[\w\-]{2,}|[^\W\d_]{2,})"));

static PHONES: LazyLock<Regex> = LazyLock::new(|| regex(r"(?-u:(?:\+|\b)\(?\d[\d\s().\-]{6,}\d\b)"));

/// Fewest digits of an SSN (and so of a card number).
const MIN_CARD_OR_SSN_DIGITS: usize = 9;
/// Fewest digits of a phone number.
const MIN_PHONE_DIGITS: usize = 8;
/// Fewest digits of a number after a word that names it (a local phone number).
const MIN_LABELLED_DIGITS: usize = 7;
/// Texts at least this long are always scanned (a few secrets are letters and digits only).
const ALWAYS_SCANNED: usize = 16;

/// False when `text` cannot hold anything this module finds.
fn may_hold_pii(text: &str) -> bool {
    text.len() >= ALWAYS_SCANNED || text.bytes().any(|b| b.is_ascii_digit() || matches!(b, b'@' | b'_' | b'-' | b'.' | b':' | b'='))
}

fn is_phone(candidate: &str) -> bool {
    let digits = candidate.chars().filter(char::is_ascii_digit).count();
    let international = candidate.starts_with('+');
    let separated = candidate.chars().any(|c| matches!(c, ' ' | '-' | '.' | '(' | ')'));
    (international && (8..=15).contains(&digits)) || (separated && (10..=15).contains(&digits))
}

/// Replaces every match of `pattern` that `accept` takes (given the match) by `kind`'s marker.
fn replace<'t>(text: Cow<'t, str>, pattern: &Regex, kind: PiiKind, accept: impl Fn(&str) -> bool) -> Cow<'t, str> {
    if !pattern.is_match(&text) {
        return text;
    }
    let replaced =
        pattern.replace_all(&text, |caps: &Captures<'_>| if accept(&caps[0]) { kind.marker().to_owned() } else { caps[0].to_owned() });
    Cow::Owned(replaced.into_owned())
}

fn replace_assigned_secrets(text: Cow<'_, str>) -> Cow<'_, str> {
    if !ASSIGNED_SECRETS.is_match(&text) {
        return text;
    }
    // A value that is already a marker stays (`token: [REDACTED:card]` is not a new secret).
    let replaced = ASSIGNED_SECRETS.replace_all(&text, |caps: &Captures<'_>| {
        if caps[2].starts_with("[REDACTED:") { caps[0].to_owned() } else { format!("{}{}", &caps[1], PiiKind::Secret.marker()) }
    });
    Cow::Owned(replaced.into_owned())
}

fn replace_labelled_numbers(text: Cow<'_, str>) -> Cow<'_, str> {
    if !LABELLED_NUMBERS.is_match(&text) {
        return text;
    }
    let replaced = LABELLED_NUMBERS.replace_all(&text, |caps: &Captures<'_>| {
        let digits = caps[4].bytes().filter(u8::is_ascii_digit).count();
        let kind = match caps.get(2) {
            Some(_) if digits == 9 => PiiKind::Ssn,
            Some(_) => return caps[0].to_owned(),
            None => PiiKind::Phone,
        };
        format!("{}{}{}", &caps[1], &caps[3], kind.marker())
    });
    Cow::Owned(replaced.into_owned())
}

fn replace_cards_and_ssns(text: Cow<'_, str>) -> Cow<'_, str> {
    let finds = digits::finds(&text);
    if finds.is_empty() {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut kept = 0;
    for (range, kind) in finds {
        out.push_str(&text[kept..range.start]);
        out.push_str(kind.marker());
        kept = range.end;
    }
    out.push_str(&text[kept..]);
    Cow::Owned(out)
}

/// Most passes over one text; each pass that changes it turns more of it into markers, so this
/// is never reached in practice.
const MAX_PASSES: usize = 8;

/// `text` with every sensitive find replaced by its kind's marker. Redacting a redacted text
/// changes nothing: a marker can make a neighbour recognisable (`[REDACTED:card]sk_live_…` now
/// starts a word), so a changed text is redacted again until a pass changes nothing.
pub fn redact_text(text: &str) -> Cow<'_, str> {
    let mut redacted = redact_once(text);
    for _ in 1..MAX_PASSES {
        let Cow::Owned(current) = &redacted else { break };
        let next = redact_once(current).into_owned();
        if next == *current {
            break;
        }
        redacted = Cow::Owned(next);
    }
    redacted
}

/// One pass of every pattern. A pattern runs only when the text has what its finds need (an `@`,
/// a `:` or `=`, enough digits).
fn redact_once(text: &str) -> Cow<'_, str> {
    if !may_hold_pii(text) {
        return Cow::Borrowed(text);
    }
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    let text = replace(Cow::Borrowed(text), &SECRETS, PiiKind::Secret, |_| true);
    let text = if text.contains([':', '=']) { replace_assigned_secrets(text) } else { text };
    let text = if text.contains('@') { replace(text, &EMAILS, PiiKind::Email, |_| true) } else { text };
    let text = if digits >= MIN_CARD_OR_SSN_DIGITS { replace_cards_and_ssns(text) } else { text };
    let text = if digits >= MIN_LABELLED_DIGITS { replace_labelled_numbers(text) } else { text };
    if digits >= MIN_PHONE_DIGITS { replace(text, &PHONES, PiiKind::Phone, is_phone) } else { text }
}

#[cfg(test)]
mod tests {
    use proptest::strategy::Strategy;

    use super::*;

    #[test]
    fn finds_each_kind() {
        let cases = [
            ("mail jane.doe+x@example.co.uk now", "mail [REDACTED:email] now"),
            ("Kontakt: jäne.døe@exämple.de", "Kontakt: [REDACTED:email]"),
            ("card 4111 1111 1111 1111 ok", "card [REDACTED:card] ok"),
            ("card 4111.1111.1111.1111 or 4111_1111_1111_1111", "card [REDACTED:card] or [REDACTED:card]"),
            ("card4111111111111111ref", "card[REDACTED:card]ref"),
            ("card 4111-1111-1111-1112 is not Luhn-valid", "card 4111-1111-1111-1112 is not Luhn-valid"),
            ("ssn 123-45-6789", "ssn [REDACTED:ssn]"),
            ("ssn 123 45 6789", "ssn [REDACTED:ssn]"),
            ("not an ssn 000-12-3456", "not an ssn 000-12-3456"),
            ("call +1 (415) 555-0100 today", "call [REDACTED:phone] today"),
            ("call 415-555-0100", "call [REDACTED:phone]"),
            ("order 1732760000 stays", "order 1732760000 stays"),
            ("key oak_live_0123456789abcdef0123456789abcdef", "key [REDACTED:secret]"),
            ("Authorization: Bearer abcdefghijklmnop1234", "Authorization: [REDACTED:secret]"),
            ("aws AKIAABCDEFGHIJKLMNOP", "aws [REDACTED:secret]"),
            ("password=hunter2hunter2", "password=[REDACTED:secret]"),
            ("client_secret=abc123xyz and DB_PASSWORD: 'hunter22'", "client_secret=[REDACTED:secret] and DB_PASSWORD: '[REDACTED:secret]'"),
            ("a tokenizer=whatever stays", "a tokenizer=whatever stays"),
            ("SSN 078051120, phone: 4155550100, tel 5550100", "SSN [REDACTED:ssn], phone: [REDACTED:phone], tel [REDACTED:phone]"),
            ("Social Security Number: 078051120", "Social Security Number: [REDACTED:ssn]"),
            ("ssn 12345678 and hotel 1234567 stay", "ssn 12345678 and hotel 1234567 stay"),
            ("write to jane@example.xn--p1ai", "write to [REDACTED:email]"),
            ("-----BEGIN PRIVATE KEY-----\nMIIE cut off", "[REDACTED:secret]"),
            ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", "[REDACTED:secret]"),
            ("plain words and 42 apples", "plain words and 42 apples"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact_text(input), expected, "{input}");
        }
    }

    #[test]
    fn redacting_twice_changes_nothing() {
        let text = "Jane <jane@example.com>, +1 415 555 0100, 4111 1111 1111 1111, 078-05-1120, password=hunter2hunter2";
        let once = redact_text(text).into_owned();
        assert_eq!(redact_text(&once), once);
    }

    /// Fragments that make finds, near misses and their neighbours likely.
    const FRAGMENTS: [&str; 16] = [
        "4111",
        "1111",
        " ",
        "-",
        ".",
        "078",
        "05",
        "+1",
        "token: ",
        "SSN ",
        "phone ",
        "db_password=",
        "jane@example.com",
        "[REDACTED:card]",
        "-----BEGIN PRIVATE KEY-----",
        "sk_live_abcdefghijkl",
    ];

    proptest::proptest! {
        #[test]
        fn redacting_any_text_twice_changes_nothing(parts in proptest::collection::vec(proptest::prop_oneof![
            proptest::sample::select(&FRAGMENTS[..]).prop_map(str::to_owned),
            "[a-z0-9 .@_:=()+-]{0,8}",
        ], 0..24)) {
            let text = parts.concat();
            let once = redact_text(&text).into_owned();
            proptest::prop_assert_eq!(redact_text(&once), once.clone(), "{:?}", text);
        }
    }

    #[test]
    fn text_without_candidates_is_borrowed() {
        assert!(matches!(redact_text("customer"), Cow::Borrowed(_)));
        assert!(matches!(redact_text("plain words and 42 apples"), Cow::Borrowed(_)));
    }
}
