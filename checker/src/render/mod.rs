//! Rendering check results for people: a self-contained HTML page per check ([`html`]) and building
//! blocks the harness report reuses ([`Page`], [`timeline_svg`], [`latency_plot_svg`],
//! [`throughput_plot_svg`], [`fault_intervals`]).
//!
//! Everything here is a pure function returning a string: no IO, no clock. All text from histories and
//! models is escaped ([`escape`]). Output stays bounded for big histories: at most
//! [`PARTITIONS_DRAWN_MAX`] partitions are drawn (Illegal ones first), at most [`OPS_DRAWN_MAX`]
//! operations per partition (a window around the failure), at most [`PARTIALS_DRAWN_MAX`] partial
//! linearizations per partition and [`STEPS_LISTED_MAX`] steps per table, plot points are thinned to
//! [`POINTS_DRAWN_MAX`]; the page says what it left out.

mod escape;
mod format;
mod nemesis;
mod page;
mod plot;
mod select;
mod timeline;
mod view;

pub use escape::escape;
pub use format::format_ns;
pub use nemesis::{fault_intervals, FaultInterval, SPANS_MAX};
pub use page::Page;
pub use plot::{latency_plot_svg, latency_points, throughput_plot_svg, Outcome, POINTS_DRAWN_MAX};
pub use select::OPS_DRAWN_MAX;
pub use timeline::{timeline_svg, PARTIALS_DRAWN_MAX};
pub use view::{PARTITIONS_DRAWN_MAX, STEPS_LISTED_MAX};

use crate::history::History;
use crate::result::CheckResult;

/// A self-contained HTML page showing `result` (which must come from checking `history`): a summary,
/// the partitions with their verdicts (a selector when scripts run), and for each drawn partition a
/// timeline of its operations per process with fault intervals and, for Illegal partitions, the
/// longest partial linearizations and the operation that could not be placed.
pub fn html(history: &History, result: &CheckResult, title: &str) -> String {
    let mut page = Page::new(title);
    page.section("summary", "Summary", &view::summary(history, result));
    let drawn: Vec<usize> = view::display_order(result)
        .into_iter()
        .take(PARTITIONS_DRAWN_MAX)
        .collect();
    let mut partitions = view::partition_table(result, &drawn);
    if result.partitions.len() > drawn.len() {
        partitions.push_str(&format!(
            r#"<p class="note">{} of {} partitions are drawn (Illegal first, then Unknown, then Ok).</p>"#,
            drawn.len(),
            result.partitions.len()
        ));
    }
    partitions.push_str(r#"<div id="partition-selector"></div><p id="status"></p>"#);
    page.section("partitions", "Partitions", &partitions);
    for &index in &drawn {
        page.raw(&view::partition_section(history, result, index));
    }
    page.finish()
}
