#version 330 core
// The LUT pass: every target pixel finds its photo pixel through the view (zoom + pan), looks it up
// in the 3D LUT and mixes with the original by strength; the layout decides where "before" shows.
// The photo may come in several tiles (one draw per tile): a tile draws only its own pixels.

uniform sampler2D u_photo;        // one tile of the photo; texture row 0 is the tile's top row
uniform vec4 u_tile;              // tile rectangle in image pixels: x, y, width, height
uniform vec2 u_image_size;        // whole photo in pixels

uniform sampler3D u_lut;          // width = red, height = green, depth = blue
uniform bool u_has_lut;
uniform int u_lut_size;
uniform vec3 u_domain_min;
uniform vec3 u_domain_max;
uniform int u_interpolation;      // 0 hardware trilinear, 1 tetrahedral from texelFetch in float
uniform float u_strength;         // 0 original, 1 full LUT

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

vec3 fetch(ivec3 base, ivec3 step) {
    return texelFetch(u_lut, base + step, 0).rgb;
}

vec3 tetrahedral(vec3 unit) {
    float n = float(u_lut_size);
    vec3 pos = unit * (n - 1.0);
    vec3 base = min(floor(pos), vec3(n - 2.0));
    vec3 f = pos - base;
    ivec3 b = ivec3(base);
    vec3 c000 = fetch(b, ivec3(0, 0, 0));
    vec3 c111 = fetch(b, ivec3(1, 1, 1));
    if (f.r >= f.g) {
        if (f.g >= f.b) {
            return c000 * (1.0 - f.r) + fetch(b, ivec3(1, 0, 0)) * (f.r - f.g) + fetch(b, ivec3(1, 1, 0)) * (f.g - f.b) + c111 * f.b;
        }
        if (f.r >= f.b) {
            return c000 * (1.0 - f.r) + fetch(b, ivec3(1, 0, 0)) * (f.r - f.b) + fetch(b, ivec3(1, 0, 1)) * (f.b - f.g) + c111 * f.g;
        }
        return c000 * (1.0 - f.b) + fetch(b, ivec3(0, 0, 1)) * (f.b - f.r) + fetch(b, ivec3(1, 0, 1)) * (f.r - f.g) + c111 * f.g;
    }
    if (f.b >= f.g) {
        return c000 * (1.0 - f.b) + fetch(b, ivec3(0, 0, 1)) * (f.b - f.g) + fetch(b, ivec3(0, 1, 1)) * (f.g - f.r) + c111 * f.r;
    }
    if (f.b >= f.r) {
        return c000 * (1.0 - f.g) + fetch(b, ivec3(0, 1, 0)) * (f.g - f.b) + fetch(b, ivec3(0, 1, 1)) * (f.b - f.r) + c111 * f.r;
    }
    return c000 * (1.0 - f.g) + fetch(b, ivec3(0, 1, 0)) * (f.g - f.r) + fetch(b, ivec3(1, 1, 0)) * (f.r - f.b) + c111 * f.b;
}

vec3 graded(vec3 rgb) {
    if (!u_has_lut) {
        return rgb;
    }
    vec3 unit = clamp((rgb - u_domain_min) / (u_domain_max - u_domain_min), 0.0, 1.0);
    vec3 looked_up;
    if (u_interpolation == 1) {
        looked_up = tetrahedral(unit);
    } else {
        float n = float(u_lut_size);
        looked_up = texture(u_lut, unit * ((n - 1.0) / n) + 0.5 / n).rgb;  // half-texel mapping
    }
    return rgb + u_strength * (looked_up - rgb);
}

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
    frag_color = vec4(before ? rgb : graded(rgb), 1.0);
}
