//! Plain-text tables for the headless commands: left-aligned text, right-aligned numbers.

pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    right: Vec<bool>,
}

impl Table {
    /// Columns whose name ends with `>` are right-aligned (the `>` is dropped).
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| h.trim_end_matches('>').to_string()).collect(),
            rows: Vec::new(),
            right: header.iter().map(|h| h.ends_with('>')).collect(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                self.rows
                    .iter()
                    .map(|r| r[c].chars().count())
                    .chain([self.header[c].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(c, cell)| {
                    if self.right[c] {
                        format!("{cell:>w$}", w = widths[c])
                    } else {
                        format!("{cell:<w$}", w = widths[c])
                    }
                })
                .collect();
            padded.join("  ").trim_end().to_string() + "\n"
        };
        let mut out = line(&self.header);
        out.push_str(&line(&widths.iter().map(|&w| "-".repeat(w)).collect::<Vec<_>>()));
        self.rows.iter().for_each(|r| out.push_str(&line(r)));
        out
    }
}
