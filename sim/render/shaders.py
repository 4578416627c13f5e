"""GLSL sources of the renderer's passes (OpenGL 4.1 core)."""

import re


def specialise(source: str, constants: dict[str, int | float]) -> str:
    """``source`` with each named ``uniform int``/``uniform float`` declared as a constant
    of the given value instead, so that the compiler drops the branches it rules out.

    Mesa's llvmpipe (the CPU rasterizer) shades pixels in SIMD groups and runs both sides
    of every branch with a lane mask, even where a uniform makes the condition the same
    for all of them: an effect switched off costs as much as one switched on unless it
    is compiled out. The renderer compiles one program per combination of such switches.
    """
    for name, value in constants.items():
        pattern = re.compile(rf"^uniform (int|float) {re.escape(name)};", re.M)
        match = pattern.search(source)
        if match is None:
            raise KeyError(f"no uniform int/float {name!r} in the shader")
        kind = match.group(1)
        literal = str(int(value)) if kind == "int" else repr(float(value))
        source = pattern.sub(f"const {kind} {name} = {literal};", source, count=1)
    return source


# The render targets every pass of the main framebuffer writes (see render.py).
OUTPUTS = """layout(location = 0) out vec4 out_color;
layout(location = 1) out vec2 out_depth_id;
layout(location = 2) out vec4 out_normal;
layout(location = 3) out vec4 out_uv_next_prev;
layout(location = 4) out vec2 out_z_next_prev;
"""

# The tone pipeline of sim/render/tonemap.py: x = a * L (a: the exposure scale, auto
# exposure applied by the caller), Narkowicz's ACES fit, the sRGB transfer curve.
TONEMAP = """vec3 aces(vec3 x) {
    return clamp(x * (2.51 * x + 0.03) / (x * (2.43 * x + 0.59) + 0.14), 0.0, 1.0);
}
vec3 srgb_oetf(vec3 v) {
    return mix(12.92 * v, 1.055 * pow(v, vec3(1.0 / 2.4)) - 0.055, step(vec3(0.0031308), v));
}
vec3 tonemap(vec3 c) { return srgb_oetf(aces(max(c, 0.0) * exposure_scale)); }
"""

# log(1e-4 + Y) of a linear colour, kept in the HDR target's alpha for auto exposure
LOG_LUMINANCE = """float log_luminance(vec3 c) {
    return log(1e-4 + dot(max(c, 0.0), vec3(0.2126, 0.7152, 0.0722)));
}
"""

SHADOW_VS = """
#version 410 core
layout(location = 0) in vec3 position;
uniform mat4 model;
uniform mat4 light_vp;
invariant gl_Position;
void main() { gl_Position = light_vp * model * vec4(position, 1.0); }
"""

SHADOW_FS = """
#version 410 core
void main() {}
"""

# The depth pre-pass's cloths: which triangle of all the cloths' (numbered from 1, cloth
# after cloth) wrote the pixel last, into the fifth target (the shading pass writes over it).
CLOTH_ID_FS = """
#version 410 core
uniform float first_triangle;
layout(location = 4) out vec2 out_id;
void main() { out_id = vec2(first_triangle + float(gl_PrimitiveID), 0.0); }
"""

SKY_VS = """
#version 410 core
out vec2 ndc;
void main() {
    vec2 p = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2) * 2.0 - 1.0;
    ndc = p;
    gl_Position = vec4(p, 1.0, 1.0);  // on the far plane: drawn only where nothing is
}
"""

SKY_FS = (
    """
#version 410 core
in vec2 ndc;
uniform mat4 inv_view_proj;
uniform samplerCube sky_tex;
uniform float sky_scale;  // Sky.ambient / 0.35: the sky seen and lighting the scene
uniform float fog_density;
uniform vec3 fog_color;
"""
    + OUTPUTS
    + LOG_LUMINANCE
    + """void main() {
    vec4 a = inv_view_proj * vec4(ndc, -1.0, 1.0);
    vec4 b = inv_view_proj * vec4(ndc, 1.0, 1.0);
    vec3 dir = normalize(b.xyz / b.w - a.xyz / a.w);
    vec3 c = texture(sky_tex, dir).rgb * sky_scale;  // linear radiance
    if (fog_density > 0.0) {
        // Looking out through a fog layer about 100 m thick, thicker towards the horizon.
        c = mix(fog_color, c, exp(-fog_density * 100.0 / max(abs(dir.z), 0.05)));
    }
    out_color = vec4(c, log_luminance(c));
    out_depth_id = vec2(0.0, 0.0);
    out_normal = vec4(0.0);
    out_uv_next_prev = vec4(0.0);
    out_z_next_prev = vec2(0.0);
}
"""
)

# The vertex attributes MESH_VS and PROBE_VS read. Rigid parts alias the rest position
# and normal to their position and normal; a cloth's vertices move on their own, its
# texture staying on its rest shape.
MESH_VS_INPUTS = """layout(location = 0) in vec3 position;
layout(location = 1) in vec3 normal;
layout(location = 2) in vec3 rest_position;
layout(location = 3) in vec3 rest_normal;
"""

# What MESH_VS and PROBE_VS hand to MESH_FS.
MESH_VS_OUTPUTS = """invariant gl_Position;
out vec4 v_clip_next;
out vec4 v_clip_prev;
out vec3 v_world;
out vec3 v_local;
out vec3 v_normal_local;
out vec3 v_normal_world;
out vec4 v_light;
out float v_view_z;
"""

# How MESH_VS and PROBE_VS begin: a vertex's world position (``w``) and the surface it
# hands on, the same in both.
MESH_VS_SURFACE = """    vec4 w = model * vec4(position, 1.0);
    v_world = w.xyz;
    v_local = rest_position;
    v_normal_local = rest_normal;
    v_normal_world = mat3(model) * normal;
    v_light = light_vp * w;
"""

MESH_VS = (
    """
#version 410 core
"""
    + MESH_VS_INPUTS
    + """// Rigid parts alias these to their position: a cloth's positions in the neighbouring
// frames are its own.
layout(location = 4) in vec3 position_next;
layout(location = 5) in vec3 position_prev;
uniform mat4 model;
uniform mat4 view;
uniform mat4 view_proj;  // the depth pre-pass uses the same matrix and expression
uniform mat4 light_vp;
uniform mat4 model_next;  // the part's pose in the next frame
uniform mat4 model_prev;
uniform mat4 view_proj_next;  // the camera of the next frame
uniform mat4 view_proj_prev;
"""
    + MESH_VS_OUTPUTS
    + "void main() {\n"
    + MESH_VS_SURFACE
    + """    vec4 c = view * w;
    v_view_z = -c.z;
    v_clip_next = view_proj_next * (model_next * vec4(position_next, 1.0));
    v_clip_prev = view_proj_prev * (model_prev * vec4(position_prev, 1.0));
    gl_Position = view_proj * model * vec4(position, 1.0);
}
"""
)

# The light probes' variant of MESH_VS: up to PROBE_BATCH probes' cube maps at once,
# probe k's face f in layer 6 k + f of a layered target. A part is one instanced draw:
# instance i goes to layer ``faces[i]`` (the faces it reaches) through that layer's
# ``face_view_proj`` (the same expression as MESH_VS's ``view_proj``, so each face's
# pixels are those a draw of that face alone gives). Only the colour target is drawn:
# the next/previous clip positions are the face's own.
PROBE_BATCH = 8
PROBE_VS = (
    """
#version 410 core
#extension GL_ARB_shader_viewport_layer_array : require
"""
    + MESH_VS_INPUTS
    + """uniform mat4 model;
uniform mat4 light_vp;
uniform mat4 face_view_proj[LAYERS];  // per layer: probe k's face f (ibl.FACE_AXES) in 6 k + f
uniform int faces[LAYERS];  // the layers this draw's instances go to
"""
    + MESH_VS_OUTPUTS
    + """flat out int v_probe;
void main() {
"""
    + MESH_VS_SURFACE
    + """    v_view_z = -w.z;
    int layer = faces[gl_InstanceID];
    gl_Position = face_view_proj[layer] * model * vec4(position, 1.0);
    v_clip_next = gl_Position;
    v_clip_prev = gl_Position;
    gl_Layer = layer;
    v_probe = layer / 6;
}
"""
).replace("LAYERS", str(6 * PROBE_BATCH))

# SKY_VS into layer ``layer`` of a layered target (the light probes' faces).
SKY_LAYER_VS = """
#version 410 core
#extension GL_ARB_shader_viewport_layer_array : require
uniform int layer;
out vec2 ndc;
void main() {
    vec2 p = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2) * 2.0 - 1.0;
    ndc = p;
    gl_Position = vec4(p, 1.0, 1.0);
    gl_Layer = layer;
}
"""

# MESH_FS's uniforms of a material (``raster._use_material``; CLOTH_FS: per member)
MATERIAL_UNIFORMS = ("base_color", "roughness", "metallic", "emissive", "tex_scale")
MESH_FS = (
    """
#version 410 core
const float PI = 3.14159265;
const float GRID_OFFSET = 0.25;  // metres off the surface the probe grid is read at
const int MAX_POINTS = 8;
const float MAX_SHADOW_SLOPE = 8.0;  // dz/du of a receiver in the sun's map, at most (grazing)
const float POINT_NORMAL_OFFSET = 1.5;  // texels of a point light's cube map (point_visibility)
in vec3 v_world;
in vec3 v_local;
in vec3 v_normal_local;
in vec3 v_normal_world;
in vec4 v_light;
in float v_view_z;
in vec4 v_clip_next;
in vec4 v_clip_prev;
uniform vec2 viewport;
uniform mat4 view;
uniform vec3 cam_pos;
uniform vec4 base_color;
uniform float roughness;
uniform float metallic;
uniform vec3 emissive;
uniform int has_texture;
uniform sampler2D albedo_tex;
uniform float tex_scale;
uniform int detail_kind;  // 0 none, 1 wood, 2 fabric, 3 asphalt, 4 brushed metal
uniform float instance_id;
uniform int has_sun;
uniform vec3 sun_dir;
uniform vec3 sun_color;
uniform int sun_shadows;
uniform sampler2DShadow shadow_map;
uniform float shadow_texel;
uniform mat3 sun_normal_map;  // world normals to the sun map's (u, v, depth) frame
uniform float shadow_softness;  // PCF radius in shadow-map texels
uniform int sun_pcf;  // 1: shadow_softness > 0 (four taps), 0: one tap
uniform int num_points;
uniform vec3 point_pos[MAX_POINTS];
uniform vec3 point_color[MAX_POINTS];
uniform vec3 point_dir[MAX_POINTS];
uniform vec2 point_cone[MAX_POINTS];  // cos of the inner and outer half-angles; x < -1: no cone
uniform int point_shadow_index0;  // the point lights with cube shadow maps, -1: none
uniform int point_shadow_index1;
uniform samplerCubeShadow point_shadow_map0;
uniform samplerCubeShadow point_shadow_map1;
uniform vec2 point_shadow_depth;  // (a, b): NDC depth = a + b / distance along the major axis
uniform float point_shadow_texel;  // a cube map texel's width per metre along the major axis
uniform int specular;
uniform int ibl;  // 1: spherical-harmonic irradiance and prefiltered specular light
uniform int ibl_specular;
uniform vec3 sh[9];
uniform samplerCube env_specular;
uniform int probe_grid;  // 1: the light probe's light scaled by a grid of probes
uniform sampler3D grid_sh;  // per probe the luminance of its irradiance, bands 0 and 1
uniform vec3 grid_origin;  // the first probe's position
uniform vec3 grid_inv_step;  // 1 / the spacing of the probes along each axis
uniform vec3 grid_count;  // probes along each axis
uniform int probe_pass;  // 1: drawing a probe's faces (alpha marks back faces)
uniform float env_levels;
uniform float ibl_scale;
uniform int use_ao;
uniform sampler2D ao_tex;
uniform vec3 sky_zenith;
uniform vec3 sky_ground;
uniform float ambient;
uniform float fog_density;
uniform vec3 fog_color;
"""
    + OUTPUTS
    + LOG_LUMINANCE
    + """
vec2 to_pixel(vec4 clip) {
    // Image coordinates (OpenCV, pixel centres at integers, row 0 at the top).
    vec2 ndc = clip.xy / clip.w;
    return vec2((ndc.x + 1.0) * 0.5 * viewport.x - 0.5, (1.0 - ndc.y) * 0.5 * viewport.y - 0.5);
}

vec3 box_mapped() {
    // Project the texture along the local axis the surface faces most (one fetch).
    vec3 a = abs(v_normal_local);
    vec3 p = v_local / tex_scale;
    vec2 uv = (a.x >= a.y && a.x >= a.z) ? p.yz : ((a.y >= a.z) ? p.xz : p.xy);
    return texture(albedo_tex, uv).rgb;
}

float hash(vec3 p) {
    p = fract(p * 0.3183099 + 0.1);
    p *= 17.0;
    return fract(p.x * p.y * p.z * (p.x + p.y + p.z));
}

float value_noise(vec3 x) {
    vec3 i = floor(x);
    vec3 f = fract(x);
    f = f * f * (3.0 - 2.0 * f);
    return mix(mix(mix(hash(i), hash(i + vec3(1, 0, 0)), f.x),
                   mix(hash(i + vec3(0, 1, 0)), hash(i + vec3(1, 1, 0)), f.x), f.y),
               mix(mix(hash(i + vec3(0, 0, 1)), hash(i + vec3(1, 0, 1)), f.x),
                   mix(hash(i + vec3(0, 1, 1)), hash(i + vec3(1, 1, 1)), f.x), f.y), f.z);
}

// Procedural surface detail in the part's frame: a height (for bump mapping, metres),
// a roughness multiplier and the pattern's highest frequency (radians per metre), by
// which it fades out where a pixel covers more than its period (no moire at distance).
vec3 detail(vec3 p) {
    if (detail_kind == 1) {  // wood: fine grain streaks along the part's x axis
        float n = value_noise(p * vec3(6.0, 90.0, 90.0));
        n += 0.5 * value_noise(p * vec3(12.0, 240.0, 240.0));
        return vec3(0.0003 * n, 0.85 + 0.3 * n, 240.0);
    }
    if (detail_kind == 2) {  // fabric: a woven grid of threads
        vec3 q = p * 900.0;
        float weave = sin(q.x) * sin(q.y) + sin(q.y) * sin(q.z) + sin(q.z) * sin(q.x);
        return vec3(0.00008 * weave, 1.0, 900.0);
    }
    if (detail_kind == 3) {  // asphalt: fine grit
        float n = value_noise(p * 60.0) + 0.5 * value_noise(p * 150.0);
        return vec3(0.0015 * n, 0.9 + 0.2 * n, 150.0);
    }
    if (detail_kind == 4) {  // brushed metal: streaks along x
        float n = value_noise(p * vec3(4.0, 600.0, 600.0));
        return vec3(0.00004 * n, 0.7 + 0.6 * n, 600.0);
    }
    return vec3(0.0, 1.0, 0.0);
}

vec3 bumped(vec3 N, float h) {
    // Bump mapping from screen-space derivatives (Mikkelsen 2010): no tangents needed.
    vec3 dpdx = dFdx(v_world);
    vec3 dpdy = dFdy(v_world);
    float dhdx = dFdx(h);
    float dhdy = dFdy(h);
    vec3 r1 = cross(dpdy, N);
    vec3 r2 = cross(N, dpdx);
    float det = dot(dpdx, r1);
    if (abs(det) < 1e-12) return N;
    vec3 grad = sign(det) * (dhdx * r1 + dhdy * r2);
    return normalize(abs(det) * N - grad);
}

vec3 fresnel(vec3 F0, float cos_theta) {
    float f = 1.0 - cos_theta;
    float f2 = f * f;
    return F0 + (1.0 - F0) * (f2 * f2 * f);
}

// What the BRDF takes of a pixel's surface: the same for every light, worked out once.
struct Surface {
    vec3 N;  // the shading normal
    vec3 V;  // towards the eye
    float NoV;
    float rough;
    vec3 diffuse;  // (1 - metallic) albedo / pi
    vec3 F0;
    float Fv;  // Schlick's weight towards the eye, (1 - N.V)^5
    float a2;  // GGX's alpha squared
    float vis_v;  // the eye's half of the height-correlated Smith term
};

float pow5(float x) {
    float x2 = x * x;
    return x2 * x2 * x;
}

Surface surface(vec3 N, vec3 V, vec3 albedo, float rough) {
    Surface s;
    s.N = N;
    s.V = V;
    s.NoV = max(dot(N, V), 1e-4);
    s.rough = rough;
    s.diffuse = (1.0 - metallic) * albedo / PI;
    s.F0 = mix(vec3(0.04), albedo, metallic);
    s.Fv = pow5(1.0 - s.NoV);
    float a = max(rough * rough, 2e-3);
    s.a2 = a * a;
    s.vis_v = sqrt(s.NoV * s.NoV * (1.0 - s.a2) + s.a2);
    return s;
}

vec3 brdf(Surface s, vec3 L) {
    // Disney's diffuse with retro-reflection (Burley 2015, the path tracer's principled
    // BSDF) + GGX / height-correlated Smith / Schlick, times N.L.
    float NoL = max(dot(s.N, L), 0.0);
    vec3 H = normalize(s.V + L);
    float LoH = max(dot(L, H), 0.0);  // = V.H
    float Fl = pow5(1.0 - NoL);
    float Rr = 2.0 * s.rough * LoH * LoH;
    float disney = (1.0 - 0.5 * Fl) * (1.0 - 0.5 * s.Fv)
                   + Rr * (Fl + s.Fv + Fl * s.Fv * (Rr - 1.0));
    vec3 diffuse = s.diffuse * disney;
    if (specular == 0) return diffuse * NoL;
    float NoH = max(dot(s.N, H), 0.0);
    float d = NoH * NoH * (s.a2 - 1.0) + 1.0;
    float D = s.a2 / (PI * d * d);
    float vis = 0.5 / (NoL * s.vis_v + s.NoV * sqrt(NoL * NoL * (1.0 - s.a2) + s.a2) + 1e-6);
    vec3 F = fresnel(s.F0, LoH);
    return (diffuse + F * (D * vis)) * NoL;
}

float sun_visibility(vec3 N, vec3 L) {
    if (sun_shadows == 0) return 1.0;
    vec3 p = v_light.xyz / v_light.w * 0.5 + 0.5;
    if (p.x < 0.0 || p.x > 1.0 || p.y < 0.0 || p.y > 1.0 || p.z > 1.0) return 1.0;
    // The receiver's depth slope in the map, dz/d(u, v): that of its tangent plane, whose
    // normal there is ``sun_normal_map`` N (receiver plane depth bias, Isidoro 2006).
    vec3 m = sun_normal_map * N;
    float mz = abs(m.z) < 1e-6 ? 1e-6 : m.z;
    vec2 slope = clamp(-m.xy / mz, -MAX_SHADOW_SLOPE, MAX_SHADOW_SLOPE);
    // Linear filtering of a depth-compare texture gives 2x2 PCF in one fetch: its texels'
    // centres lie within a texel of p along each axis, where the receiver's own depth
    // differs from p's by at most this much (and a rounding margin).
    float bias = 0.0008 + shadow_texel * (abs(slope.x) + abs(slope.y));
    if (sun_pcf == 0) return texture(shadow_map, vec3(p.xy, p.z - bias));
    // Four fetches on a rotated square widen it to a soft edge, each compared with the
    // depth the receiver's plane has where it samples (a tilted surface does not shadow
    // itself).
    float r = shadow_softness * shadow_texel;
    float s = 0.0;
    vec2 o = vec2(-0.4, -1.0) * r;
    s += texture(shadow_map, vec3(p.xy + o, p.z + dot(slope, o) - bias));
    o = vec2(1.0, -0.4) * r;
    s += texture(shadow_map, vec3(p.xy + o, p.z + dot(slope, o) - bias));
    o = vec2(0.4, 1.0) * r;
    s += texture(shadow_map, vec3(p.xy + o, p.z + dot(slope, o) - bias));
    o = vec2(-1.0, 0.4) * r;
    s += texture(shadow_map, vec3(p.xy + o, p.z + dot(slope, o) - bias));
    return 0.25 * s;
}

float point_visibility(samplerCubeShadow map, vec3 d, vec3 N) {
    // d: from the surface to the light. Compare with the light's cube depth map, biased
    // towards the light. Where the light grazes the surface (a road under a headlight)
    // its depth across one texel of the map outgrows that bias: the lookup moves along
    // the normal by what it lacks (a normal offset, whose bias grows as the tangent of
    // the light's angle) to cover POINT_NORMAL_OFFSET texels; elsewhere it stays put.
    vec3 v = -d;
    float m = max(max(abs(v.x), abs(v.y)), abs(v.z));
    float NoL = max(dot(N, d) * inversesqrt(dot(d, d)), 0.0);
    float bias = 0.01 + m * (0.04 - 0.03 * NoL);
    v += N * max(m * (POINT_NORMAL_OFFSET * point_shadow_texel) - bias * NoL, 0.0);
    m = max(max(abs(v.x), abs(v.y)), abs(v.z)) - bias;
    float ndc = point_shadow_depth.x + point_shadow_depth.y / max(m, 1e-3);
    return texture(map, vec4(v, ndc * 0.5 + 0.5));
}

vec3 sh_irradiance(vec3 n) {
    return max(sh[0] * 0.282095
        + sh[1] * 0.488603 * n.y + sh[2] * 0.488603 * n.z + sh[3] * 0.488603 * n.x
        + sh[4] * 1.092548 * n.x * n.y + sh[5] * 1.092548 * n.y * n.z
        + sh[6] * 0.315392 * (3.0 * n.z * n.z - 1.0) + sh[7] * 1.092548 * n.x * n.z
        + sh[8] * 0.546274 * (n.x * n.x - n.y * n.y), 0.0);
}

vec4 grid_l1(vec3 p) {
    // The grid's luminance up to band 1 at p: trilinear in the grid of probes (the
    // texture's linear filter), clamped at its ends.
    vec3 g = clamp((p - grid_origin) * grid_inv_step + 0.5, vec3(0.5), grid_count - 0.5);
    return texture(grid_sh, g / grid_count);
}

float l1_luminance(vec4 c, vec3 n) {
    // c: band 0 and 1 coefficients of luminance (order 0, y, z, x)
    return max(c.x * 0.282095 + 0.488603 * (c.y * n.y + c.z * n.z + c.w * n.x), 0.0);
}

vec3 env_brdf(vec3 F0, float rough, float NoV) {
    // Analytic fit of the split-sum GGX environment BRDF (Karis 2014).
    vec4 c0 = vec4(-1.0, -0.0275, -0.572, 0.022);
    vec4 c1 = vec4(1.0, 0.0425, 1.04, -0.04);
    vec4 r = rough * c0 + c1;
    float a004 = min(r.x * r.x, exp2(-9.28 * NoV)) * r.x + r.y;
    vec2 ab = vec2(-1.04, 1.04) * a004 + r.zw;
    return F0 * ab.x + ab.y;
}
"""
    + """
void main() {
    vec3 N = normalize(v_normal_world);
    vec3 V = normalize(cam_pos - v_world);
    if (!gl_FrontFacing) N = -N;
    vec3 albedo = base_color.rgb;
    if (has_texture == 1) albedo *= box_mapped();
    vec3 Ns = N;  // the shading normal; the label keeps the geometric one
    float rough = roughness;
    if (detail_kind > 0) {
        vec3 hd = detail(v_local);
        float footprint = length(fwidth(v_local)) * hd.z;  // radians of pattern per pixel
        float fade = clamp(2.0 - footprint, 0.0, 1.0);
        Ns = bumped(N, hd.x * fade);
        rough = clamp(roughness * mix(1.0, hd.y, fade), 0.03, 1.0);
    }
    Surface surf = surface(Ns, V, albedo, rough);
    vec3 direct = emissive;
    if (has_sun == 1) {
        vec3 L = -normalize(sun_dir);
        direct += brdf(surf, L) * sun_color * sun_visibility(N, L);
    }
    // The shadow-mapped point lights' visibility, looked up once rather than per light.
    float shadow0 = 1.0;
    float shadow1 = 1.0;
    if (point_shadow_index0 >= 0) {
        vec3 d0 = point_pos[max(point_shadow_index0, 0)] - v_world;
        shadow0 = point_visibility(point_shadow_map0, d0, N);
    }
    if (point_shadow_index1 >= 0) {
        vec3 d1 = point_pos[max(point_shadow_index1, 0)] - v_world;
        shadow1 = point_visibility(point_shadow_map1, d1, N);
    }
    for (int i = 0; i < num_points; ++i) {
        vec3 d = point_pos[i] - v_world;
        float r2 = max(dot(d, d), 0.01);
        float spot = 1.0;
        if (point_cone[i].x > -1.5) {
            float cos_angle = dot(-d, point_dir[i]) * inversesqrt(r2);
            spot = smoothstep(point_cone[i].y, point_cone[i].x, cos_angle);
        }
        if (i == point_shadow_index0) spot *= shadow0;
        if (i == point_shadow_index1) spot *= shadow1;
        direct += brdf(surf, d * inversesqrt(r2)) * point_color[i] * (spot / r2);
    }
    vec3 indirect;
    if (ibl == 1) {
        vec3 spec_w = env_brdf(surf.F0, rough, surf.NoV);
        // The light probe's irradiance, scaled by how much brighter the grid's is here
        // (read off the surface: probes behind a wall or floor weigh less).
        vec4 here = vec4(0.0);
        vec4 there = vec4(0.0);
        if (probe_grid == 1) {
            here = grid_l1(v_world + GRID_OFFSET * N);
            vec3 Y = vec3(0.2126, 0.7152, 0.0722);
            there = vec4(dot(sh[0], Y), dot(sh[1], Y), dot(sh[2], Y), dot(sh[3], Y));
        }
        vec3 E = sh_irradiance(Ns);
        if (probe_grid == 1) {
            E *= clamp(l1_luminance(here, Ns) / max(l1_luminance(there, Ns), 1e-4), 0.1, 10.0);
        }
        indirect = (1.0 - metallic) * albedo * E;
        if (ibl_specular == 1) {
            vec3 R = reflect(-V, Ns);
            vec3 env = textureLod(env_specular, R, rough * env_levels).rgb;
            if (probe_grid == 1) {  // scaled as the irradiance towards R
                env *= clamp(l1_luminance(here, R) / max(l1_luminance(there, R), 1e-4),
                             0.25, 4.0);
            }
            indirect += spec_w * env;
        }
        indirect *= ibl_scale;
    } else {
        vec3 hemi = mix(sky_ground, sky_zenith, N.z * 0.5 + 0.5);
        indirect = ambient * hemi * albedo * (1.0 - 0.5 * metallic);
    }
    if (use_ao == 1) indirect *= texture(ao_tex, gl_FragCoord.xy / viewport).r;
    vec3 c = direct + indirect;
    if (fog_density > 0.0) {
        c = mix(fog_color, c, exp(-fog_density * length(cam_pos - v_world)));
    }
    out_color = vec4(c, probe_pass == 1 ? (gl_FrontFacing ? 0.0 : 1e4) : log_luminance(c));
    out_depth_id = vec2(v_view_z, instance_id);
    vec3 n_gl = mat3(view) * N;
    out_normal = vec4(n_gl.x, -n_gl.y, -n_gl.z, 0.0);
    out_uv_next_prev = vec4(to_pixel(v_clip_next), to_pixel(v_clip_prev));
    out_z_next_prev = vec2(v_clip_next.w, v_clip_prev.w);
}
"""
)

# MESH_FS for PROBE_VS: the eye (cam_pos) is the position of the probe whose face it is.
PROBE_FS = MESH_FS.replace(
    "uniform vec3 cam_pos;\n",
    f"uniform vec3 probe_positions[{PROBE_BATCH}];\nflat in int v_probe;\nvec3 cam_pos;\n",
).replace(
    "void main() {\n",
    "void main() {\n    cam_pos = probe_positions[v_probe];\n",
)
assert PROBE_FS.count("probe_positions") == 2

# MESH_FS for cloths' pixels, drawn over a rectangle of the frame (QUAD_VS, scissored)
# instead of rasterizing their triangles: llvmpipe shades a triangle in blocks of 4x4
# pixels, so a person's triangles of a few pixels each would be shaded many times over.
# One draw shades the ``members`` (up to MAX_MEMBERS cloths whose materials compile to
# this program, e.g. a person's regions), each pixel with its own cloth's material.
# Each pixel takes the triangle the depth pre-pass left nearest there (its number in
# ``cloth_ids``), the triangle's vertices from the cloths' buffers and interpolates them
# where the pixel's ray meets its plane: what rasterizing that triangle gives at the
# pixel's centre. A pixel of another surface whose 2x2 quad holds one of the members'
# takes that triangle's plane (as a rasterizer's helper pixels do), so that the
# derivatives the shading takes are the surface's, and is discarded after shading.
MAX_MEMBERS = 8  # cloths CLOTH_FS shades in one draw (of one kind of material)
_VARYINGS = ("v_world", "v_local", "v_normal_local", "v_normal_world", "v_light",
             "v_view_z", "v_clip_next", "v_clip_prev")  # fmt: skip
CLOTH_FS = MESH_FS.replace("gl_FrontFacing", "front_facing").replace(
    "void main() {\n", "bool front_facing;\n\nvoid shade() {\n"
)
for _name in _VARYINGS:
    CLOTH_FS = re.sub(rf"^in (\w+) {_name};", rf"\1 {_name};", CLOTH_FS, count=1, flags=re.M)
for _name in (*MATERIAL_UNIFORMS, "instance_id"):  # each member's, from arrays below
    CLOTH_FS = re.sub(rf"^uniform (\w+) {_name};", rf"\1 {_name};", CLOTH_FS, count=1, flags=re.M)
CLOTH_FS += """
uniform mat4 light_vp;
uniform mat4 view_proj;
uniform mat4 view_proj_next;
uniform mat4 view_proj_prev;
uniform mat3 pixel_rays;  // (x, y, 1) of a window position -> its ray's direction
uniform sampler2D cloth_ids;  // per pixel the pre-pass's triangle number, from 1
uniform usamplerBuffer cloth_faces;  // every cloth's drawn triangles, three vertex rows each
uniform samplerBuffer cloth_vertices;  // six blocks of num_vertices rows (see _GpuCloth)
uniform int num_vertices;
// the cloths this draw shades (of one kind of material): each one's first triangle
// number, its number of triangles, and its material
uniform int members;
uniform float member_first[MAX_MEMBERS];
uniform float member_count[MAX_MEMBERS];
uniform vec4 member_base_color[MAX_MEMBERS];
uniform float member_roughness[MAX_MEMBERS];
uniform float member_metallic[MAX_MEMBERS];
uniform vec3 member_emissive[MAX_MEMBERS];
uniform float member_tex_scale[MAX_MEMBERS];
uniform float member_instance_id[MAX_MEMBERS];

vec3 corner(int block, uint row) {
    return texelFetch(cloth_vertices, block * num_vertices + int(row)).xyz;
}

int member_of(float number) {  // the member whose triangle ``number`` is; -1: none
    int found = -1;
    for (int k = 0; k < members; ++k) {
        float t = number - member_first[k];
        if (t >= 0.0 && t < member_count[k]) found = k;
    }
    return found;
}

void main() {
    ivec2 pixel = ivec2(gl_FragCoord.xy);
    float number = texelFetch(cloth_ids, pixel, 0).r;
    int k = member_of(number);
    bool mine = k >= 0;
    if (!mine) {
        // the quad's four numbers in one gather (the texture clamps at its edges), taken
        // in the order (0, 0), (1, 0), (0, 1), (1, 1) of the quad
        ivec2 quad = pixel & ~1;
        vec4 g = textureGather(cloth_ids, vec2(quad + 1) / vec2(textureSize(cloth_ids, 0)));
        vec4 u = vec4(g.w, g.z, g.x, g.y);
        for (int q = 3; q >= 0; --q) {
            int m = member_of(u[q]);
            if (m >= 0) {
                k = m;
                number = u[q];
            }
        }
        if (k < 0) discard;
    }
    base_color = member_base_color[k];
    roughness = member_roughness[k];
    metallic = member_metallic[k];
    emissive = member_emissive[k];
    tex_scale = member_tex_scale[k];
    instance_id = member_instance_id[k];
    uvec3 f = texelFetch(cloth_faces, int(number) - 1).xyz;
    vec3 p0 = corner(0, f.x);
    vec3 e1 = corner(0, f.y) - p0;
    vec3 e2 = corner(0, f.z) - p0;
    // the ray from the eye through the pixel's centre, and where it meets the plane
    vec3 dir = pixel_rays * vec3(gl_FragCoord.xy, 1.0);
    vec3 s = cam_pos - p0;
    vec3 pv = cross(dir, e2);
    vec3 qv = cross(s, e1);
    float det = dot(e1, pv);
    vec2 b = abs(det) > 0.0 ? vec2(dot(s, pv), dot(dir, qv)) / det : vec2(1.0 / 3.0);
    vec3 w = vec3(1.0 - b.x - b.y, b);
    // facing as the rasterizer tells it: the winding of the projected corners
    vec4 c0 = view_proj * vec4(p0, 1.0);
    vec4 c1 = view_proj * vec4(p0 + e1, 1.0);
    vec4 c2 = view_proj * vec4(p0 + e2, 1.0);
    if (min(c0.w, min(c1.w, c2.w)) > 0.0) {
        vec2 a = c1.xy / c1.w - c0.xy / c0.w;
        vec2 d = c2.xy / c2.w - c0.xy / c0.w;
        front_facing = a.x * d.y - a.y * d.x > 0.0;
    } else {
        front_facing = dot(cross(e1, e2), s) > 0.0;
    }
    v_world = p0 + b.x * e1 + b.y * e2;
    mat3 n = mat3(corner(1, f.x), corner(1, f.y), corner(1, f.z));
    v_normal_world = n * w;
    v_local = mat3(corner(2, f.x), corner(2, f.y), corner(2, f.z)) * w;
    v_normal_local = mat3(corner(3, f.x), corner(3, f.y), corner(3, f.z)) * w;
    v_light = light_vp * vec4(v_world, 1.0);
    v_view_z = -(view * vec4(v_world, 1.0)).z;
    vec3 next = mat3(corner(4, f.x), corner(4, f.y), corner(4, f.z)) * w;
    vec3 prev = mat3(corner(5, f.x), corner(5, f.y), corner(5, f.z)) * w;
    v_clip_next = view_proj_next * vec4(next, 1.0);
    v_clip_prev = view_proj_prev * vec4(prev, 1.0);
    shade();
    if (!mine) discard;
}
"""
CLOTH_FS = CLOTH_FS.replace("MAX_MEMBERS", str(MAX_MEMBERS))
assert CLOTH_FS.count("front_facing") >= 3 and "in vec3 v_world" not in CLOTH_FS
assert "uniform vec4 base_color;" not in CLOTH_FS

# A triangle covering the screen, with texture coordinates; for the post passes.
QUAD_VS = """
#version 410 core
out vec2 uv;
void main() {
    vec2 p = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2) * 2.0 - 1.0;
    uv = p * 0.5 + 0.5;
    gl_Position = vec4(p, 0.0, 1.0);
}
"""

# Ambient occlusion at half resolution from the depth buffer (positions and normals
# rebuilt from depth): for 8 directions around the pixel, the obscurance of each sample
# within ``radius`` metres above the surface's tangent plane (McGuire et al. 2011's
# estimator), with the pattern rotated per pixel of a 4x4 tile.
AO_FS = """
#version 410 core
in vec2 uv;
out float ao;
uniform sampler2D depth_tex;
uniform vec2 full_size;
uniform vec4 proj;  // P[0][0], P[1][1], P[0][2], P[1][2] of the camera's projection
uniform vec2 depth_params;  // P[2][2], P[2][3]
uniform float radius;
uniform float strength;
const int SAMPLES = 8;

vec3 view_pos(vec2 t) {
    t = (floor(t * full_size) + 0.5) / full_size;  // the centre of the texel read
    float d = texture(depth_tex, t).r;
    float z = -depth_params.y / ((2.0 * d - 1.0) + depth_params.x);
    vec2 ndc = t * 2.0 - 1.0;
    return vec3(-z * (ndc.x + proj.z) / proj.x, -z * (ndc.y + proj.w) / proj.y, z);
}

void main() {
    float d = texture(depth_tex, uv).r;
    if (d >= 1.0) { ao = 1.0; return; }
    vec2 px = 1.0 / full_size;
    vec3 P = view_pos(uv);
    vec3 px1 = view_pos(uv + vec2(px.x, 0.0)) - P;
    vec3 nx1 = P - view_pos(uv - vec2(px.x, 0.0));
    vec3 py1 = view_pos(uv + vec2(0.0, px.y)) - P;
    vec3 ny1 = P - view_pos(uv - vec2(0.0, px.y));
    vec3 dx = abs(px1.z) < abs(nx1.z) ? px1 : nx1;
    vec3 dy = abs(py1.z) < abs(ny1.z) ? py1 : ny1;
    vec3 N = normalize(cross(dx, dy));
    if (dot(N, P) > 0.0) N = -N;
    ivec2 cell = ivec2(gl_FragCoord.xy) & 3;
    float jitter = float(cell.x * 4 + cell.y) / 16.0;
    float jitter2 = float(((cell.x + 2 * cell.y) & 3)) / 4.0;
    float r_px = radius * proj.y / max(-P.z, 1e-3) * 0.5;  // in texture units (y)
    float sum = 0.0;
    for (int i = 0; i < SAMPLES; ++i) {
        float angle = (float(i) + jitter) * (6.2831853 / float(SAMPLES));
        float t = (float(i & 1) * 0.5 + 0.25 + 0.25 * jitter2);
        vec2 off = vec2(cos(angle), sin(angle)) * r_px * t;
        off.x *= full_size.y / full_size.x;
        vec3 v = view_pos(uv + off) - P;
        float vv = dot(v, v);
        float falloff = max(1.0 - vv / (radius * radius), 0.0);
        sum += max(dot(v, N) + 0.002 * P.z, 0.0) / (vv + 1e-3) * falloff;
    }
    ao = clamp(1.0 - strength * 2.0 * sum / float(SAMPLES) * radius, 0.0, 1.0);
}
"""

# A 4x4 blur of the half-resolution occlusion (one tile of its rotation pattern) that
# stops where the view depth jumps by more than a tenth.
AO_BLUR_FS = """
#version 410 core
in vec2 uv;
out float ao;
uniform sampler2D ao_raw;
uniform sampler2D depth_tex;
uniform vec2 size;  // of ao_raw
uniform vec2 depth_params;  // P[2][2], P[2][3]
float view_z(vec2 t) {
    return depth_params.y / ((2.0 * texture(depth_tex, t).r - 1.0) + depth_params.x);
}
void main() {
    float z0 = view_z(uv);
    float sum = 0.0;
    float wsum = 0.0;
    for (int y = -2; y < 2; ++y) {
        for (int x = -2; x < 2; ++x) {
            vec2 t = uv + (vec2(x, y) + 0.5) / size;
            float w = max(1.0 - abs(view_z(t) - z0) / (0.1 * abs(z0)), 0.0) + 1e-4;
            sum += texture(ao_raw, t).r * w;
            wsum += w;
        }
    }
    ao = sum / wsum;
}
"""

# Sums of the radiance target's alpha, log(1e-4 + Y), over blocks of 8x8 pixels: for
# the mean of the whole frame, read back small.
LOG_SUM_FS = """
#version 410 core
out float block_sum;
uniform sampler2D hdr;
uniform ivec2 size;
void main() {
    ivec2 base = ivec2(gl_FragCoord.xy) * 8;
    float s = 0.0;
    for (int y = 0; y < 8; ++y) {
        for (int x = 0; x < 8; ++x) {
            ivec2 p = base + ivec2(x, y);
            if (p.x < size.x && p.y < size.y) s += texelFetch(hdr, p, 0).a;
        }
    }
    block_sum = s;
}
"""

# The final colour: optional motion blur and bloom on the linear radiance, white
# balance, exposure, sensor noise, the tone curve, vignetting and FXAA.
FINAL_FS = (
    """
#version 410 core
in vec2 uv;
out vec4 out_color;
uniform sampler2D hdr;
uniform vec2 size;
uniform float exposure_scale;
uniform vec3 wb_gain;
uniform int fxaa;
uniform float noise;
uniform float noise_seed;
uniform float vignette;
uniform float bloom;
uniform int motion_blur;
uniform float shutter;
uniform sampler2D uv_next_prev;
uniform sampler2D depth_id;
"""
    + TONEMAP
    + """
vec3 radiance(vec2 t) {
    vec3 c = texture(hdr, t).rgb;
    if (bloom > 0.0) {
        vec3 glow = textureLod(hdr, t, 3.0).rgb + textureLod(hdr, t, 5.0).rgb;
        c += bloom * max(glow * 0.5 - 1.0 / max(exposure_scale, 1e-3), 0.0);
    }
    return c * wb_gain;
}

vec3 shaded(vec2 t) { return tonemap(radiance(t)); }

// Perceptual brightness of a tap for edge detection: the tone curve of its luminance,
// square-rooted (close to the displayed luma at a fraction of a full tone map).
float luma_at(vec2 t) {
    float y = dot(texture(hdr, t).rgb * wb_gain, vec3(0.2126, 0.7152, 0.0722)) * exposure_scale;
    y = max(y, 0.0);
    return sqrt(clamp(y * (2.51 * y + 0.03) / (y * (2.43 * y + 0.59) + 0.14), 0.0, 1.0));
}

float luma(vec3 c) { return dot(c, vec3(0.299, 0.587, 0.114)); }

float hash2(vec2 p) {
    vec3 q = fract(vec3(p.xyx) * 0.1031);
    q += dot(q, q.yzx + 33.33);
    return fract((q.x + q.y) * q.z);
}

void main() {
    vec2 px = 1.0 / size;
    vec3 c;
    if (motion_blur == 1 && texture(depth_id, uv).r > 0.0) {
        // Average the radiance along the pixel's path over the open shutter.
        vec4 np = texture(uv_next_prev, uv);
        vec2 here = vec2(uv.x * size.x - 0.5, (1.0 - uv.y) * size.y - 0.5);
        vec2 vel = 0.5 * ((np.xy - here) - (np.zw - here)) * shutter;
        vel.y = -vel.y;
        vec3 sum = vec3(0.0);
        for (int i = 0; i < 6; ++i) {
            sum += radiance(uv + vel * px * (float(i) / 5.0 - 0.5));
        }
        c = tonemap(sum / 6.0);
    } else if (fxaa == 1) {
        // FXAA (Lottes' console variant) with its taps at most a pixel along the edge:
        // a longer reach blurred textures and ate small bright features (a distant lit
        // window became a cross) for less accuracy (benchmarks/fxaa_quality.py)
        float lM = luma_at(uv);
        float lNW = luma_at(uv + vec2(-1.0, -1.0) * px);
        float lNE = luma_at(uv + vec2(1.0, -1.0) * px);
        float lSW = luma_at(uv + vec2(-1.0, 1.0) * px);
        float lSE = luma_at(uv + vec2(1.0, 1.0) * px);
        float lMin = min(lM, min(min(lNW, lNE), min(lSW, lSE)));
        float lMax = max(lM, max(max(lNW, lNE), max(lSW, lSE)));
        if (lMax - lMin < max(0.0312, 0.125 * lMax)) {
            c = shaded(uv);
        } else {
            vec2 dir = vec2(-((lNW + lNE) - (lSW + lSE)), (lNW + lSW) - (lNE + lSE));
            float reduce = max((lNW + lNE + lSW + lSE) * 0.03125, 1.0 / 128.0);
            dir = clamp(dir / (min(abs(dir.x), abs(dir.y)) + reduce), -2.0, 2.0) * px;
            vec3 a = 0.5 * (shaded(uv - dir / 6.0) + shaded(uv + dir / 6.0));
            vec3 b = 0.5 * a + 0.25 * (shaded(uv - dir * 0.5) + shaded(uv + dir * 0.5));
            float lB = sqrt(luma(b * b));  // back to the units of luma_at, roughly
            c = (lB < lMin || lB > lMax) ? a : b;
        }
    } else {
        c = shaded(uv);
    }
    if (noise > 0.0) {
        // Shot and read noise of a sensor, in display units before quantisation.
        float u1 = max(hash2(gl_FragCoord.xy + noise_seed), 1e-6);
        float u2 = hash2(gl_FragCoord.xy * 1.37 + noise_seed + 17.0);
        float g = sqrt(-2.0 * log(u1)) * cos(6.2831853 * u2);
        c = clamp(c + noise * g * (0.02 + 0.1 * sqrt(c)), 0.0, 1.0);
    }
    if (vignette > 0.0) {
        vec2 q = uv * 2.0 - 1.0;
        c *= 1.0 - vignette * 0.5 * dot(q, q);
    }
    out_color = vec4(c, 1.0);
}
"""
)

# FXAA's final pass in two draws (llvmpipe runs both sides of a branch at every pixel it
# shades, but shades no block that the depth test rejects). ``FINAL_EDGES_FS`` draws
# every pixel: the colour of those FXAA leaves alone, and for the others (depth 1) the
# direction and luma bounds of the edge; ``FINAL_EDGE_TAPS_FS`` then draws the edge
# pixels only, from these, with the four taps along the edge. The same operations as
# ``FINAL_FS``'s, so the same colour, bit for bit.
_BRANCH_START = """        if (lMax - lMin < max(0.0312, 0.125 * lMax)) {
            c = shaded(uv);
        } else {
            vec2 dir = vec2(-((lNW + lNE) - (lSW + lSE)), (lNW + lSW) - (lNE + lSE));
            float reduce = max((lNW + lNE + lSW + lSE) * 0.03125, 1.0 / 128.0);
            dir = clamp(dir / (min(abs(dir.x), abs(dir.y)) + reduce), -2.0, 2.0) * px;
"""
_TAPS = """            vec3 a = 0.5 * (shaded(uv - dir / 6.0) + shaded(uv + dir / 6.0));
            vec3 b = 0.5 * a + 0.25 * (shaded(uv - dir * 0.5) + shaded(uv + dir * 0.5));
            float lB = sqrt(luma(b * b));  // back to the units of luma_at, roughly
            c = (lB < lMin || lB > lMax) ? a : b;
        }
"""
_FXAA_BRANCH = FINAL_FS.index(_BRANCH_START)
_FXAA_TAPS = FINAL_FS.index(_TAPS, _FXAA_BRANCH)
FINAL_EDGES_FS = (
    FINAL_FS[:_FXAA_BRANCH].replace(
        "out vec4 out_color;",
        "layout(location = 0) out vec4 out_color;\nlayout(location = 1) out vec4 fxaa_edge;",
    )
    + "".join(line[4:] for line in _BRANCH_START.splitlines(True)[3:])  # the direction
    + """        fxaa_edge = vec4(dir, lMin, lMax);  // at every pixel, as FINAL_FS computes it
        bool calm = lMax - lMin < max(0.0312, 0.125 * lMax);
        c = calm ? shaded(uv) : vec3(0.0);
        gl_FragDepth = calm ? 0.0 : 1.0;
"""
    + FINAL_FS[_FXAA_TAPS + len(_TAPS) :]
)
FINAL_EDGE_TAPS_FS = (
    FINAL_FS[: FINAL_FS.index("        float lM = luma_at(uv);")].replace(
        "uniform sampler2D depth_id;", "uniform sampler2D depth_id;\nuniform sampler2D edges;"
    )
    + """        vec4 edge = texelFetch(edges, ivec2(gl_FragCoord.xy), 0);
        vec2 dir = edge.xy;
        float lMin = edge.z;
        float lMax = edge.w;
        {
"""
    + _TAPS
    + FINAL_FS[_FXAA_TAPS + len(_TAPS) :]
)

# Optical flow between two consecutive frames from their targets (a: the one before,
# b: the last), both ways at once: the per-pixel test of ``flow.flow_from_projections``,
# in the same float32 operations (``precise``: no fused multiply-add), so the same bits.
FLOW_FS = """
#version 410 core
uniform sampler2D depth_id_a;
uniform sampler2D uv_a;
uniform sampler2D z_a;
uniform sampler2D depth_id_b;
uniform sampler2D uv_b;
uniform sampler2D z_b;
uniform ivec2 size;
uniform float near;
uniform float depth_tol;
uniform float depth_slack;
layout(location = 0) out vec2 forward;
layout(location = 1) out uint forward_valid;
layout(location = 2) out vec2 backward;
layout(location = 3) out uint backward_valid;

// Flow of the surface seen at texel t of one frame (depth and id ``here``, image
// position ``uv`` and depth ``z`` in the other frame) and whether the other frame sees
// it, by the other's depth and ids.
void flow(ivec2 t, vec2 here, vec2 uv, float z, sampler2D other, out vec2 f, out uint valid) {
    vec2 pixel = vec2(float(t.x), float(size.y - 1 - t.y));  // (u, v), row 0 at the top
    bool front = here.y > 0.5 && here.x > 0.0 && z > near;
    f = front ? uv - pixel : vec2(0.0);
    precise vec2 nearest = floor(uv + 0.5);
    valid = 0u;
    if (front && nearest.x >= 0.0 && nearest.x < float(size.x) && nearest.y >= 0.0
            && nearest.y < float(size.y)) {
        ivec2 s = ivec2(int(nearest.x), size.y - 1 - int(nearest.y));
        vec2 there = texelFetch(other, s, 0).xy;
        precise float tolerance = depth_tol * z + depth_slack;
        precise float gap = abs(there.x - z);
        if (there.y == here.y && gap <= tolerance) valid = 1u;
    }
}

void main() {
    ivec2 t = ivec2(gl_FragCoord.xy);
    vec2 a = texelFetch(depth_id_a, t, 0).xy;
    vec2 b = texelFetch(depth_id_b, t, 0).xy;
    flow(t, a, texelFetch(uv_a, t, 0).xy, texelFetch(z_a, t, 0).x, depth_id_b,
         forward, forward_valid);
    flow(t, b, texelFetch(uv_b, t, 0).zw, texelFetch(z_b, t, 0).y, depth_id_a,
         backward, backward_valid);
}
"""
