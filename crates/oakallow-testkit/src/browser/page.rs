//! What a person does on a page: fill a field found by its label, click, read text, and wait
//! until something appears (woken by changes in the page, against a deadline; no sleeps).

use std::time::Duration;

use fantoccini::Locator;
use fantoccini::elements::Element;
use serde_json::json;
use tokio::time::Instant;

use super::{Browser, done};

/// Longest single wait in the page for a change, in ms (below WebDriver's script timeout).
const CHANGE_WAIT_MS: u64 = 5_000;

/// Resolves at the next change of the document, or after `arguments[0]` ms.
const NEXT_CHANGE: &str = "const [ms, done] = arguments;
    const observer = new MutationObserver(() => { observer.disconnect(); done(true); });
    observer.observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
    setTimeout(() => { observer.disconnect(); done(false); }, ms);";

/// What [`Browser::wait_for`] waits for.
#[derive(Debug, Clone, Copy)]
pub enum Appears<'a> {
    /// An element matching this CSS selector.
    Css(&'a str),
    /// This text, anywhere in the page's rendered text.
    Text(&'a str),
}

impl Browser {
    /// Types `text` into the field whose `<label>` reads exactly `field` (spaces normalised), or
    /// else the element matching `field` as a CSS selector; what was in it is cleared first. A
    /// `<select>` gets the option whose label is `text`.
    pub async fn fill(&self, field: &str, text: &str) {
        let element = self.field(field).await;
        let step = || format!("fill `{field}` with {text:?}");
        if done(element.tag_name().await, step) == "select" {
            done(element.select_by_label(text).await, step);
        } else {
            // Clearing also blurs the field, which a page may react to: type only if needed.
            done(element.clear().await, step);
            if !text.is_empty() {
                done(element.send_keys(text).await, step);
            }
        }
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("click `{css}`: {e}"));
    }

    /// The rendered text of the element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap_or_else(|e| panic!("read the text of `{css}`: {e}"))
    }

    /// The first element matching `css`.
    pub async fn find(&self, css: &str) -> Element {
        let url = self.url().await;
        self.client().find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("find `{css}` on {url}: {e}"))
    }

    /// Waits until `what` is on the page (also across page loads), and fails with the page's
    /// text if it is still missing after `deadline`. Between two looks it waits in the page for
    /// the next change of the document (a `MutationObserver`) or an unload, not for a fixed time.
    pub async fn wait_for(&self, what: Appears<'_>, deadline: Duration) {
        let until = Instant::now() + deadline;
        while !self.shows(what).await {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let page = self.run("return document.body ? document.body.innerText : ''", vec![]).await;
                let page: String = page.as_str().unwrap_or("").chars().take(2000).collect();
                panic!("waited {deadline:?} for {what:?} on {}; the page reads:\n{page}", self.url().await);
            }
            // Answers at the next change, or when the time left is up; a navigation ends the
            // script with an error, and the next look then waits for the new page to load.
            let left_ms = u64::try_from(left.as_millis()).unwrap_or(u64::MAX).min(CHANGE_WAIT_MS);
            let _ = self.client().execute_async(NEXT_CHANGE, vec![json!(left_ms)]).await;
        }
    }

    /// Whether `what` is on the page now; a page still loading shows nothing yet.
    async fn shows(&self, what: Appears<'_>) -> bool {
        match what {
            Appears::Css(css) => self.client().find_all(Locator::Css(css)).await.is_ok_and(|found| !found.is_empty()),
            Appears::Text(text) => {
                let script = "return document.body !== null && document.body.innerText.includes(arguments[0])";
                self.client().execute(script, vec![json!(text)]).await.is_ok_and(|shown| shown == true)
            }
        }
    }

    /// The control named by a label reading `field`, or else the element `field` selects.
    async fn field(&self, field: &str) -> Element {
        let step = || format!("find the field `{field}`");
        let labels = done(self.client().find_all(Locator::XPath(&label_xpath(field))).await, step);
        let Some(label) = labels.first() else { return self.find(field).await };
        match done(label.attr("for").await, step) {
            Some(id) => done(self.client().find(Locator::Id(&id)).await, step),
            None => done(label.find(Locator::Css("input, textarea, select")).await, step),
        }
    }
}

/// An XPath selecting the labels whose normalised text is `text`.
fn label_xpath(text: &str) -> String {
    format!("//label[normalize-space(.) = {}]", xpath_literal(text))
}

/// `text` as an XPath string literal (XPath 1.0 has no escapes: quotes of both kinds need `concat`).
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        format!("concat('{}')", text.replace('\'', "', \"'\", '"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_label_text_for_xpath() {
        assert_eq!(xpath_literal("E-mail"), "'E-mail'");
        assert_eq!(xpath_literal("Tenant's id"), "\"Tenant's id\"");
        assert_eq!(xpath_literal(r#"it's "x""#), r#"concat('it', "'", 's "x"')"#);
        assert_eq!(label_xpath("Name"), "//label[normalize-space(.) = 'Name']");
    }
}
