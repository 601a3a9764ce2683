//! RFC 4180 quoting for the sweep tables, whose cells hold TOML values (`[64, 32]`, `"relu"`).

/// One cell, quoted when it holds a comma, a quote or a line break.
pub fn cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// One line of cells.
pub fn line<S: AsRef<str>>(cells: &[S]) -> String {
    let mut out: Vec<String> = cells.iter().map(|c| cell(c.as_ref())).collect();
    let mut text = std::mem::take(&mut out).join(",");
    text.push('\n');
    text
}

/// Splits CSV text into rows of cells (quoted cells may hold commas and quotes).
pub fn parse(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => current.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut current)),
            (false, '\n') => {
                row.push(std::mem::take(&mut current));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\r') => {}
            (false, c) => current.push(c),
        }
    }
    if !current.is_empty() || !row.is_empty() {
        row.push(current);
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_round_trip() {
        let cells = ["a", "[64, 32]", "say \"hi\"", ""];
        let text = line(&cells) + &line(&["x", "y", "z", "w"]);
        let rows = parse(&text);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            cells.iter().map(|s| s.to_string()).collect::<Vec<_>>()
        );
        assert_eq!(rows[1][2], "z");
    }
}
