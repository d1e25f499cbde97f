// The LUT pass: every target pixel finds its photo pixel through the view (zoom + pan), looks it up
// in the 3D LUT and mixes with the original by strength; the layout decides where "before" shows.
// The photo may come in several tiles (one draw per tile): a tile draws only its own pixels.

uniform sampler2D u_photo;        // one tile of the photo; texture row 0 is the tile's top row
uniform vec4 u_tile;              // tile rectangle in image pixels: x, y, width, height
uniform vec2 u_image_size;        // whole photo in pixels
uniform sampler2D u_before;       // the original photo when it differs from the photo (stretched over it)
uniform bool u_has_before;        // false: "before" is the photo itself, ungraded

uniform sampler3D u_lut;          // width = red, height = green, depth = blue
uniform int u_lut_size;
uniform vec3 u_domain_min;
uniform vec3 u_domain_max;
uniform float u_strength;         // 0 original, 1 full LUT
uniform bool u_clip_warning;      // mark clipped "after" pixels: highlights red, shadows blue
#if SHAPER
uniform sampler2D u_shaper;       // the 1D shaper's entries (RGB), SHAPER_ROW to a texture row
uniform int u_shaper_size;
uniform vec3 u_shaper_min;
uniform vec3 u_shaper_max;
#endif

uniform vec2 u_target_size;       // framebuffer size in pixels
uniform bool u_rows_down;         // true: framebuffer row 0 is the top row (off-screen read-back order)
uniform float u_scale;            // target pixels per photo pixel
uniform vec2 u_offset;            // where the photo's top-left corner lands, in pane pixels
uniform int u_layout;             // 0 after, 1 vertical split, 2 horizontal split, 3 side by side, 4 before
uniform float u_split;            // split position as a fraction of the target width (1) or height (2)
uniform float u_divider_width;    // divider line width in target pixels, 0 for none
uniform vec4 u_divider_color;
uniform vec4 u_background;

out vec4 frag_color;

const int AFTER = 0;
const int SPLIT_VERTICAL = 1;
const int SPLIT_HORIZONTAL = 2;
const int SIDE_BY_SIDE = 3;
const int BEFORE = 4;

// The renderer prepends `#define INTERPOLATION n` (0 none, 1 hardware trilinear, 2 tetrahedral, 3 read
// from the split cache, a texture holding this very frame graded, while only the split moves),
// `#define EXPORT 0|1` and `#define SHAPER 0|1` (a 1D shaper before the 3D lookup): one program per
// mode, so a software rasterizer never pays for unused branches.

#if SHAPER
const int SHAPER_ROW = 1024;

float shaper_entry(int index, int channel) {
    return texelFetch(u_shaper, ivec2(index % SHAPER_ROW, index / SHAPER_ROW), 0)[channel];
}

// Per channel: linear between the two entries around the input, clamped to the shaper's domain
// (the arithmetic of LUT1D.apply on the CPU).
vec3 shaped(vec3 rgb) {
    float top = float(u_shaper_size - 1);
    vec3 pos = clamp((rgb - u_shaper_min) * (top / (u_shaper_max - u_shaper_min)), 0.0, top);
    vec3 base = min(floor(pos), vec3(top - 1.0));
    vec3 f = pos - base;
    vec3 result;
    for (int c = 0; c < 3; ++c) {
        float low = shaper_entry(int(base[c]), c);
        result[c] = low + f[c] * (shaper_entry(int(base[c]) + 1, c) - low);
    }
    return result;
}
#else
vec3 shaped(vec3 rgb) {
    return rgb;
}
#endif

#if INTERPOLATION == 2
vec3 fetch(ivec3 corner) {
    return texelFetch(u_lut, corner, 0).rgb;
}

// Tetrahedral interpolation without branches: walk from the cell's base corner along the axes in
// order of decreasing fraction; the 4 visited corners weigh (1 - f_max, f_max - f_mid, f_mid - f_min, f_min).
vec3 tetrahedral(vec3 unit) {
    float n = float(u_lut_size);
    vec3 pos = unit * (n - 1.0);
    vec3 base = min(floor(pos), vec3(n - 2.0));
    vec3 f = pos - base;
    ivec3 b = ivec3(base);
    // Largest fraction: red wins ties, then green (as the CPU reference); smallest: blue, then green.
    vec3 first = f.r >= f.g && f.r >= f.b ? vec3(1.0, 0.0, 0.0) : (f.g >= f.b ? vec3(0.0, 1.0, 0.0) : vec3(0.0, 0.0, 1.0));
    vec3 last = f.b <= f.g && f.b <= f.r ? vec3(0.0, 0.0, 1.0) : (f.g <= f.r ? vec3(0.0, 1.0, 0.0) : vec3(1.0, 0.0, 0.0));
    float f_max = dot(f, first);
    float f_min = dot(f, last);
    float f_mid = f.r + f.g + f.b - f_max - f_min;
    return fetch(b) * (1.0 - f_max)
         + fetch(b + ivec3(first)) * (f_max - f_mid)
         + fetch(b + ivec3(1) - ivec3(last)) * (f_mid - f_min)
         + fetch(b + ivec3(1)) * f_min;
}
#endif

#if INTERPOLATION == 3
uniform sampler2D u_graded;       // the split cache: this frame, graded, same size as the target
#endif

vec3 graded(vec3 rgb) {
#if INTERPOLATION == 0
    return rgb;
#elif INTERPOLATION == 3
    return texelFetch(u_graded, ivec2(gl_FragCoord.xy), 0).rgb;
#else
    vec3 unit = clamp((shaped(rgb) - u_domain_min) / (u_domain_max - u_domain_min), 0.0, 1.0);
#if INTERPOLATION == 2
    vec3 looked_up = tetrahedral(unit);
#else
    float n = float(u_lut_size);
    vec3 looked_up = texture(u_lut, unit * ((n - 1.0) / n) + 0.5 / n).rgb;  // half-texel mapping
#endif
    return rgb + u_strength * (looked_up - rgb);
#endif
}

#if EXPORT
// Export: the whole photo (one tile) at 1:1, framebuffer row 0 = photo row 0, no layout and no view.
void main() {
    frag_color = vec4(graded(texelFetch(u_photo, ivec2(gl_FragCoord.xy), 0).rgb), 1.0);
}
#else
void main() {
    vec2 target = vec2(gl_FragCoord.x, u_rows_down ? gl_FragCoord.y : u_target_size.y - gl_FragCoord.y);
    vec2 pane = target;
    bool before = u_layout == BEFORE;
    float divider_distance = 1e9;
    if (u_layout == SPLIT_VERTICAL) {
        before = target.x < u_split * u_target_size.x;
        divider_distance = abs(target.x - u_split * u_target_size.x);
    } else if (u_layout == SPLIT_HORIZONTAL) {
        before = target.y < u_split * u_target_size.y;
        divider_distance = abs(target.y - u_split * u_target_size.y);
    } else if (u_layout == SIDE_BY_SIDE) {
        float half_width = 0.5 * u_target_size.x;
        before = target.x < half_width;
        divider_distance = abs(target.x - half_width);
        pane.x = before ? target.x : target.x - half_width;
    }
    if (divider_distance < 0.5 * u_divider_width) {
        frag_color = u_divider_color;
        return;
    }
    vec2 image = (pane - u_offset) / u_scale;
    if (any(lessThan(image, vec2(0.0))) || any(greaterThanEqual(image, u_image_size))) {
        frag_color = u_background;
        return;
    }
    vec2 in_tile = image - u_tile.xy;
    if (any(lessThan(in_tile, vec2(0.0))) || any(greaterThanEqual(in_tile, u_tile.zw))) {
        discard;
    }
    vec3 rgb = texture(u_photo, in_tile / u_tile.zw).rgb;
    vec3 original = rgb;
    if (u_has_before) {  // a uniform branch: every pixel takes it, so mipmap derivatives stay defined
        original = texture(u_before, image / u_image_size).rgb;
    }
    vec3 after = graded(rgb);
#if INTERPOLATION != 3
    if (u_clip_warning) {  // an 8-bit display level 255 in any channel / 0 in every channel (the split cache
        float top = max(after.r, max(after.g, after.b));  // already holds the marked frame)
        after = top >= 254.5 / 255.0 ? vec3(1.0, 0.0, 0.0) : (top <= 0.5 / 255.0 ? vec3(0.0, 0.3, 1.0) : after);
    }
#endif
    frag_color = vec4(before ? original : after, 1.0);
}
#endif
