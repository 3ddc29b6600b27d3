#include "svg_painter.hpp"

#include <cstdio>

#include "text.hpp"

namespace mnistnn::plotting {

namespace {

std::string hex(PlotRgb c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c.r, c.g, c.b);
    return buf;
}

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    std::string s = buf;
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
    if (s == "-0") s = "0";
    return s;
}

std::string xml_escape(const std::string& s) {
    std::string out;
    for (char c : clean_utf8(s)) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            default: out += c;
        }
    }
    return out;
}

}  // namespace

double SvgPainter::text_width(const std::string& text, TextStyle style) const {
    // Advance widths of DejaVu Sans / Arial, roughly, in em.
    double em = 0;
    for (unsigned char c : text) {
        if ((c & 0xC0u) == 0x80u) continue;  // UTF-8 continuation byte
        if (c == ' ' || c == '.' || c == ',' || c == ':' || c == 'i' || c == 'l' || c == 'j' || c == '\'' ||
            c == '|' || c == '!') {
            em += 0.30;
        } else if (c == 'f' || c == 't' || c == 'r' || c == '-' || c == '(' || c == ')') {
            em += 0.40;
        } else if (c == 'm' || c == 'w' || c == 'M' || c == 'W') {
            em += 0.90;
        } else if (std::isupper(c) != 0) {
            em += 0.70;
        } else {
            em += 0.60;
        }
    }
    return em * text_size(style) * (style == TextStyle::Title ? 1.07 : 1.0);
}
double SvgPainter::cap_height(TextStyle style) const { return 0.73 * text_size(style); }

void SvgPainter::text(double x, double y, const std::string& text, TextStyle style, Anchor anchor, bool vertical) {
    body_ << "<text x=\"" << num(x) << "\" y=\"" << num(y) << '"';
    if (vertical) body_ << " transform=\"rotate(-90 " << num(x) << ' ' << num(y) << ")\"";
    if (anchor == Anchor::Middle) body_ << " text-anchor=\"middle\"";
    if (anchor == Anchor::End) body_ << " text-anchor=\"end\"";
    body_ << " font-size=\"" << text_size(style) << '"';
    if (style == TextStyle::Title) body_ << " font-weight=\"bold\"";
    body_ << '>' << xml_escape(text) << "</text>\n";
}

void SvgPainter::rule(double x0, double y0, double x1, double y1, PlotRgb colour) {
    // Pixel centres, so a 1-unit line covers exactly one row or column of pixels.
    const bool horizontal = y0 == y1;
    body_ << "<line x1=\"" << num(horizontal ? x0 : x0 + 0.5) << "\" y1=\"" << num(horizontal ? y0 + 0.5 : y0)
          << "\" x2=\"" << num(horizontal ? x1 + 1 : x1 + 0.5) << "\" y2=\"" << num(horizontal ? y1 + 0.5 : y1 + 1)
          << "\" stroke=\"" << hex(colour) << "\" stroke-width=\"1\" shape-rendering=\"crispEdges\"/>\n";
}

void SvgPainter::box(double x, double y, double w, double h, PlotRgb fill, PlotRgb stroke) {
    body_ << "<rect x=\"" << num(x + 0.5) << "\" y=\"" << num(y + 0.5) << "\" width=\"" << num(w) << "\" height=\""
          << num(h) << "\" fill=\"" << hex(fill) << "\" stroke=\"" << hex(stroke)
          << "\" stroke-width=\"1\" shape-rendering=\"crispEdges\"/>\n";
}

void SvgPainter::polyline(const std::vector<Point>& points, PlotRgb colour, bool dashed, const std::string& id) {
    body_ << "<polyline";
    if (!id.empty()) body_ << " class=\"series\" id=\"" << id << '"';
    body_ << " fill=\"none\" stroke=\"" << hex(colour) << "\" stroke-width=\"2\" stroke-linejoin=\"round\"";
    body_ << (dashed ? " stroke-dasharray=\"7 5\" stroke-linecap=\"butt\"" : " stroke-linecap=\"round\"");
    body_ << " points=\"";
    for (std::size_t i = 0; i < points.size(); ++i) {
        body_ << (i == 0 ? "" : " ") << num(points[i].x) << ',' << num(points[i].y);
    }
    body_ << "\"/>\n";
}

void SvgPainter::marker(Point at, Marker shape, PlotRgb colour) {
    if (shape == Marker::Circle) {
        body_ << "<circle cx=\"" << num(at.x) << "\" cy=\"" << num(at.y) << "\" r=\"3.5\"";
    } else {
        body_ << "<rect x=\"" << num(at.x - 3.5) << "\" y=\"" << num(at.y - 3.5)
              << "\" width=\"7\" height=\"7\"";
    }
    body_ << " fill=\"" << hex(colour) << "\" stroke=\"#ffffff\" stroke-width=\"1\"/>\n";
}

void SvgPainter::begin_group(const std::string& id) { body_ << "<g id=\"" << id << "\">\n"; }
void SvgPainter::end_group() { body_ << "</g>\n"; }

std::string SvgPainter::document(const std::string& title) const {
    std::ostringstream out;
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << kPlotWidth << "\" height=\""
        << kPlotHeight << "\" viewBox=\"0 0 " << kPlotWidth << ' ' << kPlotHeight
        << "\" font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\" fill=\"" << hex(kInk) << "\">\n"
        << "<title>" << xml_escape(title) << "</title>\n"
        << "<rect width=\"" << kPlotWidth << "\" height=\"" << kPlotHeight << "\" fill=\"" << hex(kPlotBackground)
        << "\"/>\n"
        << body_.str() << "</svg>\n";
    return out.str();
}

}  // namespace mnistnn::plotting
