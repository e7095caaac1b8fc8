//! The browser harness and the dashboard's look: the component preview rendered and
//! screenshotted at desktop and phone widths, and `app.js` (live approvals, copy buttons) and
//! the harness's helpers exercised against a small site of our own.

mod flow;
mod passkeys;
mod second_factor;
mod site;

use std::path::Path;
use std::time::Duration;

use oakallow_testkit::{Appears, Browser};
use site::Site;

/// The component preview.
const PREVIEW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../oakallow-server/assets/preview.html");

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
#[cfg_attr(not(browser_tests), ignore = "needs chromium and chromedriver")]
async fn the_preview_renders_and_fits_a_desktop_and_a_phone() {
    let browser = Browser::start().await;
    let preview = Path::new(PREVIEW).canonicalize().unwrap();
    browser.goto(&format!("file://{}", preview.display())).await;
    assert_eq!(browser.text(".page-header h1").await, "Components");
    // app.js ran: it marks the page, and the copy buttons it drives are shown.
    browser.wait_for(Appears::Css("html.js"), WAIT).await;
    assert!(browser.find("button.copy").await.is_displayed().await.unwrap());
    for width in [1280, 390] {
        let path = browser.screenshot("preview", width).await;
        assert!(path.ends_with(format!("screenshots/preview-{width}.png")), "{}", path.display());
        assert_eq!(png_width(&path), width);
    }
    // The sidebar is beside the content on a desktop, and a bar above it on a phone.
    let placement = "const nav = document.querySelector('.nav').getBoundingClientRect();
        const main = document.querySelector('.main').getBoundingClientRect();
        return nav.right <= main.left ? 'beside' : nav.bottom <= main.top ? 'above' : 'overlapping'";
    browser.set_viewport(1280, 900).await;
    assert_eq!(browser.run(placement, vec![]).await, "beside");
    browser.set_viewport(390, 900).await;
    assert_eq!(browser.run(placement, vec![]).await, "above");
}

#[tokio::test]
#[cfg_attr(not(browser_tests), ignore = "needs chromium and chromedriver")]
async fn live_approvals_replace_the_list_but_keep_a_note_being_typed() {
    let site = Site::start().await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/page", site.base)).await;
    site.stream_opened().await;
    // Only `approvals` events count; the stream is ordered, so once the second one shows, the
    // first was seen and ignored.
    site.send("message", r#"<p id="wrong">not an approvals event</p>"#);
    site.send("approvals", r#"<label for="decision-note">Decision note</label><textarea id="decision-note"></textarea>"#);
    browser.wait_for(Appears::Css("#decision-note"), WAIT).await;
    assert_eq!(browser.run("return document.querySelectorAll('#wrong, #initial').length", vec![]).await, 0);

    browser.fill("Decision note", "Checked the order").await;
    site.send("approvals", r#"<p id="newer">2 pending</p>"#);
    browser.wait_for(Appears::Css("[data-live-approvals][data-held]"), WAIT).await;
    let note = browser.run("return document.getElementById('decision-note').value", vec![]).await;
    assert_eq!(note, "Checked the order", "the update must not wipe a note being typed");

    // Emptied and left: the held update applies.
    browser.fill("Decision note", "").await;
    browser.click("#title").await;
    browser.wait_for(Appears::Css("#newer"), WAIT).await;
    assert_eq!(browser.run("return document.querySelector('[data-live-approvals]').hasAttribute('data-held')", vec![]).await, false);

    // A fragment identical to what is shown replaces nothing (a button about to be clicked stays
    // the same element); a different one does. The stream is ordered: once `#newest` shows, the
    // identical fragment before it was handled.
    let count = "window.replacements = 0;
        new MutationObserver((records) => { window.replacements += records.length; })
            .observe(document.querySelector('[data-live-approvals]'), { childList: true });";
    browser.run(count, vec![]).await;
    site.send("approvals", r#"<p id="newer">2 pending</p>"#);
    site.send("approvals", r#"<p id="newest">3 pending</p>"#);
    browser.wait_for(Appears::Css("#newest"), WAIT).await;
    assert_eq!(browser.run("return window.replacements", vec![]).await, 1, "only the different fragment replaced the list");
}

#[tokio::test]
#[cfg_attr(not(browser_tests), ignore = "needs chromium and chromedriver")]
async fn the_helpers_fill_by_label_copy_read_cookies_and_post_raw_forms() {
    let site = Site::start().await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/page", site.base)).await;
    assert_eq!(browser.cookie("session").await.as_deref(), Some("abc"), "HttpOnly cookies are visible to the harness");
    assert_eq!(browser.cookie("absent").await, None);

    browser.fill("Note", "first").await;
    browser.fill("#note", "second").await;
    assert_eq!(browser.run("return document.getElementById('note').value", vec![]).await, "second");

    browser.click("button.copy").await;
    browser.wait_for(Appears::Text("Copied"), WAIT).await;
    // Pasting (Ctrl+V) into the note shows what the clipboard holds.
    browser.fill("Note", "").await;
    browser.find("#note").await.send_keys("\u{E009}v").await.unwrap();
    assert_eq!(browser.run("return document.getElementById('note').value", vec![]).await, "oak_std_copied");

    // Same-site: the session cookie goes with the forged form, and only the given fields.
    browser.post_form("/echo", &[("decision", "approve"), ("note", "a&b")]).await;
    browser.wait_for(Appears::Css("#body"), WAIT).await;
    assert_eq!(browser.text("#body").await, "decision=approve&note=a%26b");
    assert_eq!(browser.text("#cookie").await, "[session=abc]");

    // Cross-site (from a file page): SameSite=Lax keeps the cookie out.
    let preview = Path::new(PREVIEW).canonicalize().unwrap();
    browser.goto(&format!("file://{}", preview.display())).await;
    browser.post_form(&format!("{}/echo", site.base), &[("decision", "approve")]).await;
    browser.wait_for(Appears::Css("#cookie"), WAIT).await;
    assert_eq!(browser.text("#cookie").await, "[]");
}

/// The width a PNG file declares in its header.
fn png_width(path: &Path) -> u32 {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} is not a PNG", path.display());
    u32::from_be_bytes(bytes[16..20].try_into().unwrap())
}
