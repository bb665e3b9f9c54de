//! `fleetsim report`: a self-contained HTML dashboard of one or more run folders, and its
//! charts as SVG or PNG files for slides.
//!
//! Everything is checked before anything is written: missing run folders, unreadable CSVs and
//! existing output files (without `--force`) are bad input (exit 2, nothing written). Each
//! file is written to a temporary name beside its target and renamed into place.

mod charts;
mod data;
mod forecast;
mod html;
mod images;
mod svg;

use crate::cli::Failure;
use crate::target::{self, Signature};
use std::path::PathBuf;

/// Arguments of `fleetsim report`.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// Run folders written by `fleetsim run` (several are compared), compare or sweep
    /// folders, or forecast folders (on a page of their own).
    #[arg(required = true, value_name = "RUN_DIR")]
    runs: Vec<PathBuf>,
    /// The HTML file to write.
    #[arg(
        short = 'o',
        long = "out",
        alias = "output",
        value_name = "FILE",
        default_value = "report.html"
    )]
    output: PathBuf,
    /// Replace existing output files (only files fleetsim wrote).
    #[arg(long)]
    force: bool,
    /// Also write each chart as a PNG file into this folder.
    #[arg(long, value_name = "DIR")]
    png: Option<PathBuf>,
    /// Also write each chart as an SVG file into this folder.
    #[arg(long, value_name = "DIR")]
    svg: Option<PathBuf>,
    /// No summary line on stderr.
    #[arg(long, short)]
    quiet: bool,
}

/// What format an image folder gets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ImageFormat {
    Svg,
    Png,
}

/// Runs `fleetsim report`.
pub fn report(args: ReportArgs) -> Result<(), Failure> {
    target::check_file(&args.output, args.force, Signature::Html).map_err(Failure::BadInput)?;
    for dir in [&args.png, &args.svg].into_iter().flatten() {
        target::refuse_baselines(dir).map_err(Failure::BadInput)?;
        if dir.exists() && !dir.is_dir() {
            return Err(Failure::BadInput(format!(
                "{} is not a folder",
                dir.display()
            )));
        }
    }
    let forecasts = args
        .runs
        .iter()
        .filter(|d| forecast::is_forecast(d))
        .count();
    let (page, charts, what) = if forecasts == 0 {
        let runs = data::read_runs(&args.runs).map_err(Failure::BadInput)?;
        let (page, charts) = html::page(&runs);
        let n = runs.len();
        (
            page,
            charts,
            format!("{n} run{}", if n == 1 { "" } else { "s" }),
        )
    } else if forecasts == args.runs.len() {
        let read = args
            .runs
            .iter()
            .map(|d| forecast::read(d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Failure::BadInput)?;
        let (page, charts) = forecast::page(&read);
        let n = read.len();
        (
            page,
            charts,
            format!("{n} forecast{}", if n == 1 { "" } else { "s" }),
        )
    } else {
        return Err(Failure::BadInput(
            "a forecast folder is reported on its own page: give only forecast folders, or only run, compare and sweep folders".into(),
        ));
    };

    let mut files: Vec<(PathBuf, ImageFormat, usize)> = Vec::new();
    for (dir, format) in [(&args.svg, ImageFormat::Svg), (&args.png, ImageFormat::Png)] {
        let Some(dir) = dir else { continue };
        let ext = match format {
            ImageFormat::Svg => "svg",
            ImageFormat::Png => "png",
        };
        for (i, c) in charts.iter().enumerate() {
            let path = dir.join(format!("{}.{ext}", c.id));
            let signature = match format {
                ImageFormat::Svg => Signature::Svg,
                ImageFormat::Png => Signature::Png,
            };
            target::check_file(&path, args.force, signature).map_err(Failure::BadInput)?;
            files.push((path, format, i));
        }
    }

    // Render everything in memory first, so a failure leaves nothing half written.
    let raster = files
        .iter()
        .any(|(_, f, _)| *f == ImageFormat::Png)
        .then(images::Rasterizer::new);
    let mut out: Vec<(PathBuf, Vec<u8>, Signature)> = Vec::with_capacity(files.len() + 1);
    for (path, format, i) in files {
        let (bytes, signature) = match (format, &raster) {
            (ImageFormat::Png, Some(r)) => (
                target::png_signed(r.png(&charts[i].svg).map_err(|e| {
                    Failure::Run(anyhow::anyhow!("cannot draw {}: {e}", path.display()))
                })?),
                Signature::Png,
            ),
            _ => (charts[i].svg.clone().into_bytes(), Signature::Svg),
        };
        out.push((path, bytes, signature));
    }
    out.push((args.output.clone(), page.into_bytes(), Signature::Html));
    for (path, bytes, signature) in &out {
        target::write_file(path, bytes, *signature).map_err(Failure::Run)?;
    }
    if !args.quiet {
        let images = out.len() - 1;
        eprintln!(
            "wrote {} ({what}, {} charts{})",
            args.output.display(),
            charts.len(),
            if images > 0 {
                format!(", {images} image files")
            } else {
                String::new()
            }
        );
    }
    Ok(())
}
