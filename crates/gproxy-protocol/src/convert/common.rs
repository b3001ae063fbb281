//! Small helpers more than one protocol converter needs, where the logic is
//! the same for each.

use super::{ImageSource, generated_id};

/// `id`, or a fresh id with `prefix` when the upstream (or the canonical
/// value) left it empty.
pub(super) fn id_or_generated(id: &str, prefix: &str) -> String {
    if id.is_empty() {
        generated_id(prefix)
    } else {
        id.to_owned()
    }
}

/// An image as a URL: inline bytes as a `data:<media type>;base64,<data>`
/// URL, a URL as itself.
pub(super) fn image_url(source: &ImageSource) -> String {
    match source {
        ImageSource::Url { url } => url.clone(),
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_kept_or_generated() {
        assert_eq!(id_or_generated("msg_1", "msg_"), "msg_1");
        let fresh = id_or_generated("", "msg_");
        assert!(fresh.starts_with("msg_") && fresh.len() == 4 + 24);
    }

    #[test]
    fn images_as_urls() {
        let inline = ImageSource::Base64 {
            media_type: "image/png".into(),
            data: "AA==".into(),
        };
        assert_eq!(image_url(&inline), "data:image/png;base64,AA==");
        let url = ImageSource::Url {
            url: "https://x/y.png".into(),
        };
        assert_eq!(image_url(&url), "https://x/y.png");
    }
}
