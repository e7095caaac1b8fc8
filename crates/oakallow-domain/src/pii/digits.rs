//! Card numbers and social security numbers inside text, however their digits are grouped. The
//! text is read as runs of digit groups (a run is digits apart by at most four separator
//! characters: spaces, tabs, `-`, `.`, `_`, `/`, `\`, dashes); any stretch of whole groups with 13–19
//! digits that passes the Luhn check is a card, and three groups of 3, 2 and 4 digits with a valid
//! area, group and serial are an SSN. Letters around the digits do not hide them.

use std::ops::Range;

use super::PiiKind;

/// Longest run of separator characters between two groups of one number.
const MAX_SEPARATOR: usize = 4;

/// One group of consecutive ASCII digits: its byte range and its digits.
struct Group {
    bytes: Range<usize>,
    digits: Vec<u8>,
}

fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{a0}' | '-' | '.' | '_' | '/' | '\\' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}

/// The runs of digit groups of `text`.
fn runs(text: &str) -> Vec<Vec<Group>> {
    let mut runs: Vec<Vec<Group>> = Vec::new();
    let mut current: Vec<Group> = Vec::new();
    let mut separators = 0;
    for (at, c) in text.char_indices() {
        // `to_digit(10)` knows only the ASCII digits.
        if let Some(digit) = c.to_digit(10).and_then(|d| u8::try_from(d).ok()) {
            match current.last_mut() {
                Some(group) if separators == 0 => {
                    group.bytes.end = at + 1;
                    group.digits.push(digit);
                }
                _ => current.push(Group { bytes: at..at + 1, digits: vec![digit] }),
            }
            separators = 0;
        } else if is_separator(c) && !current.is_empty() && separators < MAX_SEPARATOR {
            separators += 1;
        } else {
            separators = 0;
            if !current.is_empty() {
                runs.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// True for a number that passes the Luhn check.
pub(super) fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// 13 to 19 digits that pass the Luhn check.
pub(super) fn is_card(digits: &[u8]) -> bool {
    (13..=19).contains(&digits.len()) && luhn_valid(digits)
}

/// Marks every group that is part of a card number: any stretch of whole groups can be one, so
/// that a number written next to a card (`order 12345 4111 1111 1111 1111`) does not hide it.
fn mark_cards(run: &[Group], marked: &mut [Option<PiiKind>]) {
    for start in 0..run.len() {
        let mut digits = Vec::with_capacity(19);
        for (end, group) in run.iter().enumerate().skip(start) {
            digits.extend_from_slice(&group.digits);
            if digits.len() > 19 {
                break;
            }
            if is_card(&digits) {
                marked[start..=end].iter_mut().for_each(|m| *m = Some(PiiKind::Card));
            }
        }
    }
}

fn is_ssn(area: &[u8], group: &[u8], serial: &[u8]) -> bool {
    let zero = |digits: &[u8]| digits.iter().all(|&d| d == 0);
    area.len() == 3
        && group.len() == 2
        && serial.len() == 4
        && !zero(area)
        && area != [6, 6, 6]
        && area[0] != 9
        && !zero(group)
        && !zero(serial)
}

fn mark_ssns(run: &[Group], marked: &mut [Option<PiiKind>]) {
    for start in 0..run.len().saturating_sub(2) {
        let three = &run[start..start + 3];
        if marked[start..start + 3].iter().all(Option::is_none) && is_ssn(&three[0].digits, &three[1].digits, &three[2].digits) {
            marked[start..start + 3].iter_mut().for_each(|m| *m = Some(PiiKind::Ssn));
        }
    }
}

/// The byte ranges of `text` that are card numbers or SSNs, in order, without overlaps; groups
/// of one kind that follow each other become one range.
pub(super) fn finds(text: &str) -> Vec<(Range<usize>, PiiKind)> {
    let mut finds: Vec<(Range<usize>, PiiKind)> = Vec::new();
    for run in runs(text).iter().filter(|run| run.iter().map(|g| g.digits.len()).sum::<usize>() >= 9) {
        let mut marked = vec![None; run.len()];
        mark_cards(run, &mut marked);
        mark_ssns(run, &mut marked);
        for (group, kind) in run.iter().zip(marked) {
            let Some(kind) = kind else { continue };
            match finds.last_mut() {
                Some((range, last)) if *last == kind && text[range.end..group.bytes.start].chars().all(is_separator) => {
                    range.end = group.bytes.end;
                }
                _ => finds.push((group.bytes.clone(), kind)),
            }
        }
    }
    finds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(&str, PiiKind)> {
        finds(text).into_iter().map(|(range, kind)| (&text[range], kind)).collect()
    }

    #[test]
    fn cards_with_any_separator_are_found_whole() {
        for text in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "4111.1111.1111.1111",
            "4111_1111_1111_1111",
            "4111/1111/1111/1111",
            "4111    1111    1111    1111",
            "4111 - 1111 - 1111 - 1111",
            "3782 822463 10005",
        ] {
            assert_eq!(kinds(text), vec![(text, PiiKind::Card)], "{text}");
        }
        assert_eq!(kinds("card4111111111111111ref"), vec![("4111111111111111", PiiKind::Card)]);
    }

    #[test]
    fn a_number_next_to_a_card_does_not_hide_it() {
        let found = kinds("order 12345 4111 1111 1111 1111 paid");
        assert!(found.iter().any(|(text, kind)| text.contains("4111 1111 1111 1111") && *kind == PiiKind::Card), "{found:?}");
    }

    #[test]
    fn other_numbers_are_kept() {
        for text in ["order 1732760000", "4111 1111 1111 1112", "2026-11-28 12:30", "v1.2.3", "192.168.100.200", "1732760000 1732760001"] {
            assert_eq!(kinds(text), Vec::new(), "{text}");
        }
    }

    #[test]
    fn ssns_with_dashes_spaces_or_dots() {
        for text in ["078-05-1120", "078 05 1120", "078.05.1120"] {
            assert_eq!(kinds(text), vec![(text, PiiKind::Ssn)], "{text}");
        }
        for text in ["000-12-3456", "666-12-3456", "912-12-3456", "123-00-4567", "123-45-0000", "415-555-0100"] {
            assert_eq!(kinds(text), Vec::new(), "{text}");
        }
    }
}
