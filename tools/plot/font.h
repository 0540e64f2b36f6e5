// The built-in bitmap font of the PNG back end: 5 x 7 glyphs for printable ASCII (space to '~') in a
// cell of 6 x 8 units (one column and one row of spacing).  Other bytes draw as a hollow box.
#ifndef LRA_TOOLS_PLOT_FONT_H
#define LRA_TOOLS_PLOT_FONT_H

#define LRA_FONT_CELL_W 6
#define LRA_FONT_CELL_H 8
#define LRA_FONT_GLYPH_W 5
#define LRA_FONT_GLYPH_H 8  // rows to scan: 7 plus the descender row

// 1 when the glyph of byte c has its pixel at column col (0..4) and row row (0..7, top first) set;
// row 7 is the spacing row, used only by the descenders of g j p q y.
int lra_font_pixel(unsigned char c, int col, int row);

#endif
