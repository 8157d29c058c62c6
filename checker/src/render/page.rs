//! A self-contained HTML page: inline CSS and script, no network access, works opened from disk. The
//! harness report builds its pages with it too, adding its own sections (plots, tables).
//!
//! Section bodies are trusted HTML fragments built by this module's siblings (which escape all text);
//! headings and the title are escaped here.

use super::escape::escape;

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// A page under construction.
#[derive(Clone, Debug, Default)]
pub struct Page {
    title: String,
    sections: Vec<String>,
}

impl Page {
    /// An empty page with `title` (plain text; escaped).
    pub fn new(title: &str) -> Page {
        Page {
            title: title.to_string(),
            sections: Vec::new(),
        }
    }

    /// Appends a section with an anchor `id`, a plain-text `heading` (escaped) and an HTML `body`
    /// (a fragment from this module or otherwise already escaped).
    pub fn section(&mut self, id: &str, heading: &str, body: &str) -> &mut Page {
        self.sections.push(format!(
            "<section class=\"block\" id=\"{}\">\n<h2>{}</h2>\n{body}\n</section>\n",
            escape(id),
            escape(heading)
        ));
        self
    }

    /// Appends an HTML fragment as it is (it brings its own structure).
    pub fn raw(&mut self, html: &str) -> &mut Page {
        self.sections.push(html.to_string());
        self
    }

    /// The whole document.
    pub fn finish(&self) -> String {
        let mut out =
            String::with_capacity(self.sections.iter().map(String::len).sum::<usize>() + 16_384);
        out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        out.push_str(&format!(
            "<title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
            escape(&self.title)
        ));
        out.push_str(&format!(
            "<header><h1>{}</h1></header>\n<main>\n",
            escape(&self.title)
        ));
        for section in &self.sections {
            out.push_str(section);
        }
        out.push_str("</main>\n<div id=\"tooltip\" class=\"hidden\" role=\"tooltip\"></div>\n");
        out.push_str(&format!("<script>\n{SCRIPT}</script>\n</body>\n</html>\n"));
        out
    }
}
