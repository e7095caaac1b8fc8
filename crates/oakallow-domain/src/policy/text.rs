//! The JSON Schemas of the text fields the API checks, written from the same limits as
//! [`check_name`](super::check_name) and [`check_text`](super::check_text), so that the published
//! document accepts exactly what the server accepts. Fields use them as `value_type`s; lengths are
//! in characters (Unicode scalar values), as JSON Schema counts them.

use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

use super::edit::{MAX_LABEL_LEN, MAX_NAME_LEN, MAX_REFERENCE_LEN, MAX_TEXT_LEN};
use crate::org::{MAX_URL_LEN, WEBHOOK_EVENTS};

/// Control characters (`char::is_control`: Unicode `Cc`), as a regex class body.
const CONTROL: &str = r"\u0000-\u001F\u007F-\u009F";
/// White space that is not a control character (Unicode `White_Space`, what `str::trim` removes).
const SPACE: &str = r"\u0020\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// Any text without NUL.
const NO_NUL: &str = r"^[^\u0000]*$";

fn string(min: Option<usize>, max: usize, pattern: String, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(min)
        .max_length(Some(max))
        .pattern(Some(pattern))
        .description(Some(description))
        .into()
}

/// A name, external id, tag or key name: see [`check_name`](super::check_name).
pub struct Name;

impl utoipa::PartialSchema for Name {
    fn schema() -> RefOr<Schema> {
        let pattern = format!("^[^{CONTROL}{SPACE}](?:[^{CONTROL}]*[^{CONTROL}{SPACE}])?$");
        string(
            Some(1),
            MAX_NAME_LEN,
            pattern,
            &format!("1 to {MAX_NAME_LEN} characters, without control characters or surrounding white space."),
        )
    }
}

impl utoipa::ToSchema for Name {}

/// A description, note or reason: see [`check_text`](super::check_text).
pub struct Text;

impl utoipa::PartialSchema for Text {
    fn schema() -> RefOr<Schema> {
        string(None, MAX_TEXT_LEN, NO_NUL.to_owned(), &format!("At most {MAX_TEXT_LEN} characters, without NUL."))
    }
}

impl utoipa::ToSchema for Text {}

/// The caller's own reference of a check: at most [`MAX_REFERENCE_LEN`] characters, no NUL.
pub struct Reference;

impl utoipa::PartialSchema for Reference {
    fn schema() -> RefOr<Schema> {
        string(None, MAX_REFERENCE_LEN, NO_NUL.to_owned(), &format!("At most {MAX_REFERENCE_LEN} characters, without NUL."))
    }
}

impl utoipa::ToSchema for Reference {}

/// Who decided an approval: 1 to [`MAX_LABEL_LEN`] characters, not only white space, no control
/// characters.
pub struct DecidedBy;

impl utoipa::PartialSchema for DecidedBy {
    fn schema() -> RefOr<Schema> {
        let pattern = format!("^[^{CONTROL}]*[^{CONTROL}{SPACE}][^{CONTROL}]*$");
        string(
            Some(1),
            MAX_LABEL_LEN,
            pattern,
            &format!("1 to {MAX_LABEL_LEN} characters, not only white space, without control characters."),
        )
    }
}

impl utoipa::ToSchema for DecidedBy {}

/// An `Idempotency-Key` header: 1 to [`MAX_LABEL_LEN`] visible ASCII characters (spaces inside).
pub struct IdempotencyKey;

impl utoipa::PartialSchema for IdempotencyKey {
    fn schema() -> RefOr<Schema> {
        let pattern = r"^[\u0021-\u007E](?:[\u0020-\u007E]*[\u0021-\u007E])?$".to_owned();
        string(Some(1), MAX_LABEL_LEN, pattern, &format!("1 to {MAX_LABEL_LEN} visible ASCII characters."))
    }
}

impl utoipa::ToSchema for IdempotencyKey {}

/// A webhook event type an org can subscribe to (see [`WEBHOOK_EVENTS`]).
pub struct WebhookEvent;

impl utoipa::PartialSchema for WebhookEvent {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).enum_values(Some(WEBHOOK_EVENTS)).into()
    }
}

impl utoipa::ToSchema for WebhookEvent {}

/// Why an approval is asked for: like [`Text`], and not only white space.
pub struct Reason;

impl utoipa::PartialSchema for Reason {
    fn schema() -> RefOr<Schema> {
        let pattern = format!(r"^[^\u0000]*[^\u0000{CONTROL}{SPACE}][^\u0000]*$");
        string(Some(1), MAX_TEXT_LEN, pattern, &format!("1 to {MAX_TEXT_LEN} characters, not only white space, without NUL."))
    }
}

impl utoipa::ToSchema for Reason {}

/// A webhook destination: `http://` or `https://`, at most [`MAX_URL_LEN`] characters, without
/// control characters or white space (and, when set, a host that resolves to a permitted address).
pub struct WebhookUrl;

impl utoipa::PartialSchema for WebhookUrl {
    fn schema() -> RefOr<Schema> {
        let pattern = format!("^https?://[^{CONTROL}{SPACE}]*$");
        string(None, MAX_URL_LEN, pattern, &format!("An http:// or https:// URL of at most {MAX_URL_LEN} characters."))
    }
}

impl utoipa::ToSchema for WebhookUrl {}
