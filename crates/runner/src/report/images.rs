//! Charts as image files for slide decks: SVG as drawn in the report, PNG rasterized by
//! `resvg` (pure Rust) with the DejaVu Sans font embedded in the binary, so a PNG looks the
//! same on every machine whatever fonts it has.

use resvg::{tiny_skia, usvg};

/// PNG pixels per SVG unit: charts are 720 units wide, so PNGs are 1440 pixels wide.
pub const PNG_SCALE: f32 = 2.0;

/// Turns chart SVGs into PNGs, reusing one font database.
pub struct Rasterizer {
    options: usvg::Options<'static>,
}

impl Rasterizer {
    /// A rasterizer with DejaVu Sans (regular and bold) as its only fonts.
    pub fn new() -> Self {
        let mut options = usvg::Options {
            font_family: "DejaVu Sans".into(),
            ..usvg::Options::default()
        };
        let db = options.fontdb_mut();
        db.load_font_data(dejavu::sans::regular().to_vec());
        db.load_font_data(dejavu::sans::bold().to_vec());
        // Charts ask for "DejaVu Sans, Verdana, Arial, sans-serif": the first is embedded,
        // and sans-serif falls back to it too.
        db.set_sans_serif_family("DejaVu Sans");
        Self { options }
    }

    /// Renders one SVG document to PNG bytes.
    pub fn png(&self, svg: &str) -> Result<Vec<u8>, String> {
        let tree = usvg::Tree::from_str(svg, &self.options).map_err(|e| e.to_string())?;
        let size = tree
            .size()
            .to_int_size()
            .scale_by(PNG_SCALE)
            .ok_or("chart too large to rasterize")?;
        let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
            .ok_or("chart too large to rasterize")?;
        pixmap.fill(tiny_skia::Color::WHITE);
        resvg::render(
            &tree,
            tiny_skia::Transform::from_scale(PNG_SCALE, PNG_SCALE),
            &mut pixmap.as_mut(),
        );
        pixmap.encode_png().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_drawn_with_the_embedded_font() {
        let r = Rasterizer::new();
        let blank = r
            .png(r##"<svg xmlns="http://www.w3.org/2000/svg" width="80" height="20"><rect width="80" height="20" fill="#fff"/></svg>"##)
            .unwrap();
        let text = r
            .png(r##"<svg xmlns="http://www.w3.org/2000/svg" width="80" height="20" font-family="DejaVu Sans, Verdana, sans-serif"><rect width="80" height="20" fill="#fff"/><text x="2" y="15" font-size="14">Jan 11</text></svg>"##)
            .unwrap();
        assert_eq!(&text[..8], b"\x89PNG\r\n\x1a\n");
        // Glyphs make the image less compressible than a blank one.
        assert!(
            text.len() > blank.len() + 100,
            "{} vs {}",
            text.len(),
            blank.len()
        );
    }
}
