//! Whole-page screenshots at a given width, written as PNG files under
//! `target/screenshots/` for people to look at, and a check that nothing on the page is wider
//! than the screen.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Browser;

/// The tallest screenshot taken: a longer page is cut there.
const MAX_HEIGHT: u32 = 16_000;

/// The viewport height used while measuring a page and afterwards.
const WINDOW_HEIGHT: u32 = 900;

impl Browser {
    /// Takes a screenshot of the whole current page laid out `width` CSS pixels wide, writes it
    /// to `<screenshot dir>/<name>-<width>.png` (see [`screenshot_dir`]) and answers the path.
    /// Fails when something sticks out of the page sideways. The viewport is `width` × 900
    /// afterwards.
    pub async fn screenshot(&self, name: &str, width: u32) -> PathBuf {
        self.set_viewport(width, WINDOW_HEIGHT).await;
        let (actual, _) = self.viewport().await;
        assert_eq!(actual, width, "the browser would not make its viewport {width} px wide");
        self.assert_fits_width().await;
        // A taller viewport can change the layout (e.g. `100vh`): measure again until it holds.
        let mut height = self.page_height().await;
        for _ in 0..3 {
            self.set_viewport(width, height).await;
            let measured = self.page_height().await;
            if measured == height {
                break;
            }
            height = measured;
        }
        let png = self.client().screenshot().await.unwrap_or_else(|e| panic!("screenshot {name} at {width} px: {e}"));
        self.set_viewport(width, WINDOW_HEIGHT).await;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let path = dir.join(format!("{name}-{width}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Fails, naming the culprits, when the page is wider than the viewport (something would
    /// make a phone scroll sideways). Content scrolling inside its own box does not count.
    pub async fn assert_fits_width(&self) {
        let script = "const width = document.documentElement.clientWidth;
            if (document.documentElement.scrollWidth <= width) return null;
            const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                + [...e.classList].map((c) => '.' + c).join('');
            // A scrolling box clips what is inside it, except what is positioned out of it.
            const scrolled = (e) => {
                if (['absolute', 'fixed'].includes(getComputedStyle(e).position)) return false;
                for (let box = e.parentElement; box && box !== document.body; box = box.parentElement) {
                    if (getComputedStyle(box).overflowX !== 'visible') return true;
                }
                return false;
            };
            return [...document.body.querySelectorAll('*')]
                .filter((e) => e.getBoundingClientRect().right > width + 0.5 && !scrolled(e))
                .slice(0, 8).map((e) => name(e) + ' ends at ' + Math.round(e.getBoundingClientRect().right));";
        // `null` when the page fits, else what sticks out (perhaps nothing nameable).
        if let Value::Array(culprits) = self.run(script, vec![]).await {
            panic!("{} overflows its {} px width: {}", self.url().await, self.viewport().await.0, list(&culprits));
        }
    }

    /// The height of the whole page in CSS pixels, at most [`MAX_HEIGHT`].
    async fn page_height(&self) -> u32 {
        let script = "return Math.ceil(Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0))";
        let height = self.run(script, vec![]).await;
        height.as_u64().and_then(|h| u32::try_from(h).ok()).unwrap_or(MAX_HEIGHT).clamp(1, MAX_HEIGHT)
    }
}

/// Where screenshots go: `$OAKALLOW_SCREENSHOT_DIR` if set, else `screenshots/` in the target
/// directory (`$CARGO_TARGET_DIR`, or the workspace's `target/`).
pub fn screenshot_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("OAKALLOW_SCREENSHOT_DIR") {
        return PathBuf::from(dir);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| option_env!("CARGO_TARGET_DIR").map(PathBuf::from))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("screenshots")
}

fn list(values: &[Value]) -> String {
    values.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect::<Vec<_>>().join(", ")
}
