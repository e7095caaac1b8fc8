//! Planted personal data: every value the PII test sends is made unique per org and per place,
//! and remembered with that place, so that a grep of what was stored says which value, sent
//! where, was kept.

use serde_json::{Value, json};

/// How a planted card number is written.
#[derive(Debug, Clone, Copy)]
pub enum CardStyle {
    /// `4xxx xxxx xxxx xxxx`.
    Spaces,
    /// `4xxx-xxxx-xxxx-xxxx`.
    Dashes,
    /// `4xxx.xxxx.xxxx.xxxx`.
    Dots,
    /// `4xxx_xxxx_xxxx_xxxx`.
    Underscores,
    /// `4xxx/xxxx/xxxx/xxxx`.
    Slashes,
    /// Groups apart by several spaces.
    WideSpaces,
    /// 16 digits in a row.
    Plain,
    /// An American Express number, 4-6-5.
    Amex,
    /// Glued between letters: `card4xxxxxxxxxxxxxxxref`.
    Glued,
}

/// Every card style written as text.
pub const CARD_STYLES: [CardStyle; 9] = [
    CardStyle::Spaces,
    CardStyle::Dashes,
    CardStyle::Dots,
    CardStyle::Underscores,
    CardStyle::Slashes,
    CardStyle::WideSpaces,
    CardStyle::Plain,
    CardStyle::Amex,
    CardStyle::Glued,
];

/// One org's planted values.
pub struct Plant {
    tag: u32,
    next: u32,
    /// `(place, needle)`: the text that must not be stored when the org redacts.
    pub needles: Vec<(String, String)>,
    /// Places whose values no org keeps (replaced since, or kept as a digest only).
    gone: Vec<String>,
}

/// `body` with its Luhn check digit appended.
fn luhn_complete(body: &str) -> String {
    let digits: Vec<u32> = body.chars().map(|c| c.to_digit(10).unwrap()).collect();
    let sum: u32 =
        digits.iter().rev().enumerate().map(|(i, &d)| if i % 2 == 0 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }).sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

fn grouped(digits: &str, sizes: &[usize], separator: &str) -> String {
    let mut parts = Vec::new();
    let mut start = 0;
    for size in sizes {
        parts.push(&digits[start..start + size]);
        start += size;
    }
    parts.join(separator)
}

impl Plant {
    /// Values for the org numbered `tag` (1–9).
    pub fn new(tag: u32) -> Self {
        Self { tag, next: 0, needles: Vec::new(), gone: Vec::new() }
    }

    /// Says that what was planted at `place` is not kept by any org.
    pub fn gone(&mut self, place: &str) {
        self.gone.push(place.to_owned());
    }

    /// The needles an org that does not redact keeps.
    pub fn kept(&self) -> impl Iterator<Item = &(String, String)> {
        self.needles.iter().filter(|(place, _)| !self.gone.contains(place))
    }

    fn index(&mut self) -> u32 {
        self.next += 1;
        self.next
    }

    fn record(&mut self, place: &str, needle: String) -> String {
        self.needles.push((place.to_owned(), needle.clone()));
        needle
    }

    /// An e-mail address.
    pub fn email(&mut self, place: &str) -> String {
        let i = self.index();
        let needle = format!("jane.t{}n{i}@example.com", self.tag);
        self.record(place, needle)
    }

    /// A phone number, in one of four notations.
    pub fn phone(&mut self, place: &str) -> String {
        let i = self.index();
        let (a, b) = (200 + self.tag, 1000 + i);
        let needle = match i % 4 {
            0 => format!("+1 415 {a} {b}"),
            1 => format!("(415) {a}-{b}"),
            2 => format!("415.{a}.{b}"),
            _ => format!("+44 20 {a}0 {b}"),
        };
        self.record(place, needle)
    }

    /// A phone number as a JSON number (only recognisable by its key).
    pub fn phone_number(&mut self, place: &str) -> Value {
        let i = self.index();
        let number = 4_150_000_000u64 + u64::from(self.tag) * 100_000 + u64::from(i);
        self.record(place, number.to_string());
        json!(number)
    }

    /// A US social security number, with dashes, spaces or dots.
    pub fn ssn(&mut self, place: &str) -> String {
        let i = self.index();
        let (group, serial) = (10 + i % 89, self.tag * 1000 + i);
        let separator = ["-", " ", "."][(i % 3) as usize];
        self.record(place, format!("078{separator}{group:02}{separator}{serial:04}"))
    }

    /// A US social security number without separators (only recognisable by a label before it).
    pub fn ssn_digits(&mut self, place: &str) -> String {
        let i = self.index();
        self.record(place, format!("078{:02}{:04}", 10 + i % 89, self.tag * 1000 + i))
    }

    /// A US social security number as a JSON number (only recognisable by its key).
    pub fn ssn_number(&mut self, place: &str) -> Value {
        let i = self.index();
        let number = 219_000_000 + self.tag * 10_000 + i;
        self.record(place, number.to_string());
        json!(number)
    }

    fn card_digits(&mut self, amex: bool) -> String {
        let i = self.index();
        if amex {
            luhn_complete(&format!("37{}{i:03}82246310", self.tag))
        } else {
            luhn_complete(&format!("4{}{i:03}5183920476", self.tag))
        }
    }

    /// A Luhn-valid card number written in `style`.
    pub fn card(&mut self, place: &str, style: CardStyle) -> String {
        let digits = self.card_digits(matches!(style, CardStyle::Amex));
        let four = [4, 4, 4, 4];
        let text = match style {
            CardStyle::Spaces => grouped(&digits, &four, " "),
            CardStyle::Dashes => grouped(&digits, &four, "-"),
            CardStyle::Dots => grouped(&digits, &four, "."),
            CardStyle::Underscores => grouped(&digits, &four, "_"),
            CardStyle::Slashes => grouped(&digits, &four, "/"),
            CardStyle::WideSpaces => grouped(&digits, &four, "   "),
            CardStyle::Plain => digits.clone(),
            CardStyle::Amex => grouped(&digits, &[4, 6, 5], " "),
            CardStyle::Glued => format!("card{digits}ref"),
        };
        let needle = if matches!(style, CardStyle::Glued) { digits } else { text.clone() };
        self.record(place, needle);
        text
    }

    /// A Luhn-valid card number as a JSON number.
    pub fn card_number(&mut self, place: &str) -> Value {
        let digits = self.card_digits(false);
        self.record(place, digits.clone());
        json!(digits.parse::<u64>().unwrap())
    }

    /// A secret, in one of six shapes; the needle is the secret part.
    pub fn secret(&mut self, place: &str) -> String {
        let (i, t) = (self.index(), self.tag);
        let (text, needle) = match i % 6 {
            0 => (format!("sk_live_t{t}n{i}abcdefghijklmnopqrst"), None),
            1 => (format!("ghp_T{t}N{i:04}abcdefghijklmnopqrstuvwxyz01"), None),
            2 => (format!("Bearer t{t}n{i}abcdefghijklmnopqrstuvwx"), Some(format!("t{t}n{i}abcdefghijklmnopqrstuvwx"))),
            3 => (format!("password=hunter2t{t}n{i}"), Some(format!("hunter2t{t}n{i}"))),
            4 => (format!("oak_live_{:032x}", t * 100_000 + i), None),
            _ => (format!("AKIAT{t}N{i:03}ABCDEFGHIJ"), None),
        };
        self.record(place, needle.unwrap_or_else(|| text.clone()));
        text
    }

    /// A value kept only because of its key (`api_key`, `password`…), whatever it looks like.
    pub fn opaque(&mut self, place: &str) -> String {
        let i = self.index();
        let needle = format!("opaque-t{}n{i}", self.tag);
        self.record(place, needle)
    }

    /// Free text mixing every kind.
    pub fn prose(&mut self, place: &str) -> String {
        format!(
            "Customer {} (phone {}, SSN {}, SSN {}) paid with {} / {}; {}; db_password={}",
            self.email(place),
            self.phone(place),
            self.ssn(place),
            self.ssn_digits(place),
            self.card(place, CardStyle::Spaces),
            self.card(place, CardStyle::Glued),
            self.secret(place),
            self.opaque(place)
        )
    }

    /// A params-like object with personal data in values, keys, numbers and nested places;
    /// `order_id` and `amount` are not personal and must be kept.
    pub fn object(&mut self, place: &str) -> Value {
        let cards: Vec<Value> = CARD_STYLES.iter().map(|style| json!(self.card(place, *style))).collect();
        let secrets: Vec<Value> = (0..6).map(|_| json!(self.secret(place))).collect();
        json!({
            "amount": 125,
            "order_id": 1_732_760_000u64,
            "customer": self.email(place),
            "phone": self.phone(place),
            "mobile": self.phone_number(place),
            "cards": cards,
            "total": self.card_number(place),
            "ssn": self.ssn_number(place),
            "tax_id": self.ssn(place),
            "api_key": self.opaque(place),
            "secrets": secrets,
            "notes": self.prose(place),
            self.email(place): {"since": 2019},
            "contacts": { self.email(place): self.phone(place), self.email(place): self.ssn(place) },
            "deep": {"a": [{"b": {"c": self.email(place), "d": [self.card_number(place)]}}]}
        })
    }
}
