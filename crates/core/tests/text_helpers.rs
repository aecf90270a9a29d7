//! Text helpers: readable figure colours, legends that stay inside their figure, and the CSV cells
//! the page's data table reads back from the CSV export.

use plotters::style::RGBColor;
use proptest::prelude::*;
use td_core::draw_kit::{
    contrast_ratio, legend_layout, text_colour, text_width, wrap_items, BACKGROUND, MUTED,
    TEXT_CONTRAST,
};

#[test]
fn contrast_ratio_matches_wcag_reference_values() {
    // Black on white is 21:1; #777 on white is the classic 4.48:1 (just under AA).
    assert!((contrast_ratio(&RGBColor(0, 0, 0), &BACKGROUND) - 21.0).abs() < 1e-9);
    let grey = contrast_ratio(&RGBColor(0x77, 0x77, 0x77), &BACKGROUND);
    assert!((grey - 4.48).abs() < 0.01, "{grey}");
    assert!(contrast_ratio(&MUTED, &BACKGROUND) >= 4.5);
}

#[test]
fn text_colour_keeps_readable_colours_and_darkens_pale_ones() {
    let blue = RGBColor(31, 119, 180);
    assert_eq!(text_colour(&blue), blue, "already 4.6:1");
    let orange = RGBColor(230, 120, 20);
    let dark = text_colour(&orange);
    assert!(contrast_ratio(&dark, &BACKGROUND) >= TEXT_CONTRAST);
    assert!(dark.0 > dark.1 && dark.1 > dark.2, "still orange: {dark:?}");
}

proptest! {
    #[test]
    fn text_colour_always_reads(r in 0u8..=255, g in 0u8..=255, b in 0u8..=255) {
        let c = text_colour(&RGBColor(r, g, b));
        prop_assert!(contrast_ratio(&c, &BACKGROUND) >= TEXT_CONTRAST);
        // The lightest 2% step that reads: the step before it (if any) does not.
        let lighter_reads = (0..=50u32).map(|k| 1.0 - 0.02 * f64::from(k)).find_map(|f| {
            let s = |v: u8| (f64::from(v) * f).round() as u8;
            let d = RGBColor(s(r), s(g), s(b));
            (contrast_ratio(&d, &BACKGROUND) >= TEXT_CONTRAST).then_some(d)
        });
        prop_assert_eq!(Some(c), lighter_reads.or(Some(RGBColor(0, 0, 0))));
    }

    #[test]
    fn legend_items_stay_inside_the_width(
        lens in proptest::collection::vec(1usize..90, 1..8),
        right in 60.0f64..900.0,
    ) {
        let items: Vec<String> = lens.iter().map(|&n| "w".repeat(n)).collect();
        for (text, x, _) in legend_layout(&items, 8.0, right, 10.5, 1.0) {
            prop_assert!(x + text_width(&text, 10.5, 1.0) <= right + 1e-9 || x == 8.0 && text.chars().count() <= 4);
        }
    }

    #[test]
    fn wrapped_legend_lines_fit(words in proptest::collection::vec(1usize..30, 1..20), width in 120.0f64..800.0) {
        let item: String = words.iter().map(|&n| "x".repeat(n)).collect::<Vec<_>>().join(" ");
        let char_width = 6.0;
        let max_chars = ((width - 16.0) / char_width).max(10.0) as usize;
        for line in wrap_items(&[item], width, char_width, 10, 1.0) {
            prop_assert!(line.chars().count() <= max_chars, "{line:?} > {max_chars}");
        }
    }
}

proptest! {
    /// The page's data table reads back exactly what the CSV export wrote.
    #[test]
    fn csv_cells_read_back_csv_fields(fields in proptest::collection::vec("[a-z0-9 ,\"\\-]{0,10}", 1..8)) {
        let line = fields
            .iter()
            .map(|f| td_core::export::csv_field(f))
            .collect::<Vec<_>>()
            .join(",");
        prop_assert_eq!(td_core::export::csv_cells(&line), fields);
    }
}
