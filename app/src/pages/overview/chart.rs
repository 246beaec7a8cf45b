//! A stacked bar chart of attempts by outcome, drawn as server-rendered SVG: readable without
//! JavaScript, labelled for screen readers, with the numbers in a table beside it.

use countersign_proto::SeriesPoint;
use leptos::prelude::*;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 140.0;

/// Outcomes bottom to top, with their CSS class and label.
const LAYERS: [(&str, &str); 4] = [
    ("verified", "verified"),
    ("unverified", "unverified"),
    ("would-reject", "would reject"),
    ("rejected", "rejected"),
];

fn layer_values(point: &SeriesPoint) -> [i64; 4] {
    let c = &point.counts;
    [c.verified, c.unverified, c.would_reject, c.rejected]
}

/// A round number at or above `max`, for the y axis (1, 2, 5, 10, 20, 50 ...).
fn nice_ceiling(max: i64) -> i64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if step * m >= max {
                return step * m;
            }
        }
        step *= 10;
    }
}

fn label(point: &SeriesPoint) -> String {
    point.at.format("%b %-d %H:%M").to_string()
}

/// What one bar spans, from the distance between the first two ("hour", "day", "6 hours").
fn bar_span(series: &[SeriesPoint]) -> String {
    let Some([a, b]) = series.get(..2) else { return "bar".into() };
    match (b.at - a.at).num_hours() {
        24 => "day".into(),
        1 => "hour".into(),
        h if h > 0 && h % 24 == 0 => format!("{} days", h / 24),
        h if h > 0 => format!("{h} hours"),
        _ => "bar".into(),
    }
}

/// The middle tick of the y axis: half the top, when that is a whole number.
fn middle_tick(top: i64) -> String {
    if top % 2 == 0 {
        (top / 2).to_string()
    } else {
        String::new()
    }
}

#[component]
pub fn TrafficChart(platform: &'static str, series: Vec<SeriesPoint>) -> impl IntoView {
    let max = series.iter().map(|p| layer_values(p).iter().sum::<i64>()).max().unwrap_or(0);
    let top = nice_ceiling(max.max(1));
    let slot = WIDTH / series.len().max(1) as f64;
    let bar = (slot * 0.72).max(1.0);
    let bars = series
        .iter()
        .enumerate()
        .flat_map(|(i, point)| {
            let x = i as f64 * slot + (slot - bar) / 2.0;
            let mut y = HEIGHT;
            layer_values(point)
                .into_iter()
                .zip(LAYERS)
                .filter(|(value, _)| *value > 0)
                .map(move |(value, (class, _))| {
                    let h = (value as f64 / top as f64 * HEIGHT).max(1.0);
                    y -= h;
                    view! { <rect x=format!("{x:.1}") y=format!("{y:.1}") width=format!("{bar:.1}") height=format!("{h:.1}") class=class/> }
                })
                .collect::<Vec<_>>()
        })
        .collect_view();
    let total: i64 = series.iter().map(|p| layer_values(p).iter().sum::<i64>()).sum();
    let summary = format!("{platform}: {total} attempts over {} bars, at most {max} in one bar.", series.len());
    let first = series.first().map(label).unwrap_or_default();
    let middle = series.get(series.len() / 2).filter(|_| series.len() > 2).map(label).unwrap_or_default();
    let last = series.last().map(label).unwrap_or_default();
    let units = format!("Attempts per {}; times in UTC.", bar_span(&series));
    let legend = LAYERS.map(|(class, name)| view! { <li><span class=format!("swatch {class}")></span>{name}</li> });
    let rows = series
        .iter()
        .filter(|p| layer_values(p).iter().sum::<i64>() > 0)
        .map(|p| {
            let [v, u, w, r] = layer_values(p);
            view! { <tr><th scope="row">{label(p)}</th><td>{v}</td><td>{u}</td><td>{w}</td><td>{r}</td></tr> }
        })
        .collect_view();
    view! {
        <figure class="chart">
            <div class="plot">
                <div class="y-axis" aria-hidden="true"><span>{top}</span><span>{middle_tick(top)}</span><span>"0"</span></div>
                <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") preserveAspectRatio="none" role="img" aria-label=summary>
                    <line x1="0" y1="0.5" x2=WIDTH y2="0.5" class="grid"/>
                    <line x1="0" y1=HEIGHT / 2.0 x2=WIDTH y2=HEIGHT / 2.0 class="grid"/>
                    <line x1="0" y1=HEIGHT - 0.5 x2=WIDTH y2=HEIGHT - 0.5 class="axis"/>
                    {bars}
                </svg>
            </div>
            <div class="x-axis" aria-hidden="true"><span>{first}</span><span>{middle}</span><span>{last}</span></div>
            <figcaption><ul class="legend">{legend}</ul><p class="chart-units">{units}</p></figcaption>
            <div class="visually-hidden"><table>
                <caption>{format!("Attempts on {platform} per bar")}</caption>
                <thead><tr><th scope="col">"Bar start (UTC)"</th><th scope="col">"verified"</th><th scope="col">"unverified"</th><th scope="col">"would reject"</th><th scope="col">"rejected"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table></div>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(1204), 2000);
        assert_eq!((middle_tick(10), middle_tick(5), middle_tick(1)), ("5".into(), String::new(), String::new()));
    }

    #[test]
    fn bars_say_what_they_span() {
        let at = |h: i64| SeriesPoint {
            at: chrono::DateTime::UNIX_EPOCH + chrono::Duration::hours(h),
            counts: Default::default(),
        };
        assert_eq!(bar_span(&[at(0), at(1)]), "hour");
        assert_eq!(bar_span(&[at(0), at(24)]), "day");
        assert_eq!(bar_span(&[at(0), at(6)]), "6 hours");
        assert_eq!(bar_span(&[at(0)]), "bar");
    }
}
