//! The terminal table of findings.

use std::io::Write;

use cra_core::text::escape_untrusted as esc;

use crate::pipeline::ScanReport;
use crate::vulns::matcher::VulnReport;

pub(super) fn render(
    report: &ScanReport,
    vulns: &VulnReport,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if let Some(name) = report.image.names.first() {
        writeln!(out, "Image:    {}", esc(name))?;
    }
    writeln!(out, "Image ID: {}", report.image.config_digest)?;
    match &vulns.grade_set_by {
        Some(id) => writeln!(out, "Grade:    {} (set by {})", vulns.grade, esc(id))?,
        None => writeln!(out, "Grade:    {}", vulns.grade)?,
    }
    let data: Vec<String> = vulns
        .data
        .iter()
        .map(|s| {
            let date = s.newest_modified.as_deref().unwrap_or("unknown");
            format!("{} {}", s.ecosystem, date.get(..10).unwrap_or(date))
        })
        .collect();
    writeln!(out, "Data:     {}", data.join(", "))?;
    writeln!(
        out,
        "Findings: {} in {} packages; {} packages unmatched",
        vulns.findings.len(),
        report.inventory.packages.len(),
        vulns.unmatched.len()
    )?;
    writeln!(out)?;
    let rows: Vec<[String; 6]> = vulns
        .findings
        .iter()
        .map(|f| {
            [
                esc(&f.id).into_owned(),
                esc(&f.aliases.join(",")).into_owned(),
                esc(&f.name).into_owned(),
                esc(&f.installed).into_owned(),
                esc(f.fixed_in.as_deref().unwrap_or("-")).into_owned(),
                f.rating.severity.to_string(),
            ]
        })
        .collect();
    let header = [
        "ID",
        "ALIASES",
        "PACKAGE",
        "INSTALLED",
        "FIXED-IN",
        "SEVERITY",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 6], out: &mut dyn Write| -> std::io::Result<()> {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(header, out)?;
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]], out)?;
    }
    if !vulns.unmatched.is_empty() {
        writeln!(out)?;
        writeln!(out, "Unmatched (not checked, not clean):")?;
        for u in &vulns.unmatched {
            writeln!(
                out,
                "  {} {}: {}",
                esc(&u.name),
                esc(&u.version),
                esc(&u.reason.to_string())
            )?;
        }
    }
    Ok(())
}
