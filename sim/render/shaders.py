"""GLSL sources of the renderer's passes (OpenGL 4.1 core)."""

# The render targets every pass of the main framebuffer writes (see render.py).
OUTPUTS = """layout(location = 0) out vec4 out_color;
layout(location = 1) out vec2 out_depth_id;
layout(location = 2) out vec4 out_normal;
layout(location = 3) out vec4 out_uv_next_prev;
layout(location = 4) out vec2 out_z_next_prev;
"""

# Filmic tone curve (ACES fit) and gamma 2.2; needs ``uniform float exposure``.
TONEMAP = """vec3 tonemap(vec3 c) {
    c *= exposure;
    c = (c * (2.51 * c + 0.03)) / (c * (2.43 * c + 0.59) + 0.14);
    return pow(clamp(c, 0.0, 1.0), vec3(1.0 / 2.2));
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
uniform vec3 sky_zenith;
uniform vec3 sky_horizon;
uniform vec3 sky_ground;
uniform float exposure;
uniform float fog_density;
uniform vec3 fog_color;
"""
    + OUTPUTS
    + TONEMAP
    + """void main() {
    vec4 a = inv_view_proj * vec4(ndc, -1.0, 1.0);
    vec4 b = inv_view_proj * vec4(ndc, 1.0, 1.0);
    vec3 dir = normalize(b.xyz / b.w - a.xyz / a.w);
    vec3 c = dir.z >= 0.0 ? mix(sky_horizon, sky_zenith, pow(dir.z, 0.6))
                          : mix(sky_horizon, sky_ground, pow(-dir.z, 0.4));
    c /= max(exposure, 1e-6);  // the sky's brightness does not depend on exposure
    if (fog_density > 0.0) {
        // Looking out through a fog layer about 100 m thick, thicker towards the horizon.
        c = mix(fog_color, c, exp(-fog_density * 100.0 / max(abs(dir.z), 0.05)));
    }
    out_color = vec4(tonemap(c), 1.0);
    out_depth_id = vec2(0.0, 0.0);
    out_normal = vec4(0.0);
    out_uv_next_prev = vec4(0.0);
    out_z_next_prev = vec2(0.0);
}
"""
)

MESH_VS = """
#version 410 core
layout(location = 0) in vec3 position;
layout(location = 1) in vec3 normal;
// Rigid parts alias these to position and normal; a cloth's vertices move on their own:
// its texture stays on its rest shape, its positions in the neighbouring frames are its own.
layout(location = 2) in vec3 rest_position;
layout(location = 3) in vec3 rest_normal;
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
invariant gl_Position;
out vec4 v_clip_next;
out vec4 v_clip_prev;
out vec3 v_world;
out vec3 v_local;
out vec3 v_normal_local;
out vec3 v_normal_world;
out vec4 v_light;
out float v_view_z;
void main() {
    vec4 w = model * vec4(position, 1.0);
    vec4 c = view * w;
    v_world = w.xyz;
    v_local = rest_position;
    v_normal_local = rest_normal;
    v_normal_world = mat3(model) * normal;
    v_light = light_vp * w;
    v_view_z = -c.z;
    v_clip_next = view_proj_next * (model_next * vec4(position_next, 1.0));
    v_clip_prev = view_proj_prev * (model_prev * vec4(position_prev, 1.0));
    gl_Position = view_proj * model * vec4(position, 1.0);
}
"""

MESH_FS = (
    """
#version 410 core
const float PI = 3.14159265;
const int MAX_POINTS = 8;
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
uniform float instance_id;
uniform int has_sun;
uniform vec3 sun_dir;
uniform vec3 sun_color;
uniform int sun_shadows;
uniform sampler2DShadow shadow_map;
uniform float shadow_texel;
uniform int num_points;
uniform vec3 point_pos[MAX_POINTS];
uniform vec3 point_color[MAX_POINTS];
uniform vec3 point_dir[MAX_POINTS];
uniform vec2 point_cone[MAX_POINTS];  // cos of the inner and outer half-angles; x < -1: no cone
uniform vec3 sky_zenith;
uniform vec3 sky_ground;
uniform float ambient;
uniform float exposure;
uniform float fog_density;
uniform vec3 fog_color;
"""
    + OUTPUTS
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

vec3 brdf(vec3 N, vec3 V, vec3 L, vec3 albedo) {
    // Energy-normalised Blinn-Phong with the exponent mapped from GGX roughness:
    // close to GGX in look at a fraction of its cost on a software rasteriser.
    float NoL = max(dot(N, L), 0.0);
    vec3 H = normalize(V + L);
    float NoH = max(dot(N, H), 1e-4);
    float a = max(roughness * roughness, 1e-3);
    float shininess = 2.0 / (a * a) - 2.0;
    float spec = (shininess + 8.0) / (8.0 * PI) * exp2(log2(NoH) * shininess);
    vec3 F0 = mix(vec3(0.04), albedo, metallic);
    return ((1.0 - metallic) * albedo / PI + F0 * spec) * NoL;
}

float sun_visibility(vec3 N, vec3 L) {
    if (sun_shadows == 0) return 1.0;
    vec3 p = v_light.xyz / v_light.w * 0.5 + 0.5;
    if (p.x < 0.0 || p.x > 1.0 || p.y < 0.0 || p.y > 1.0 || p.z > 1.0) return 1.0;
    float bias = max(0.004 * (1.0 - dot(N, L)), 0.0008);
    // Linear filtering of a depth-compare texture gives 2x2 PCF in one fetch.
    return texture(shadow_map, vec3(p.xy, p.z - bias));
}

"""
    + TONEMAP
    + """
void main() {
    vec3 N = normalize(v_normal_world);
    vec3 V = normalize(cam_pos - v_world);
    if (!gl_FrontFacing) N = -N;
    vec3 albedo = base_color.rgb;
    if (has_texture == 1) albedo *= box_mapped();
    vec3 hemi = mix(sky_ground, sky_zenith, N.z * 0.5 + 0.5);
    vec3 c = emissive + ambient * hemi * albedo * (1.0 - 0.5 * metallic);
    if (has_sun == 1) {
        vec3 L = -normalize(sun_dir);
        c += brdf(N, V, L, albedo) * sun_color * sun_visibility(N, L);
    }
    // Point lights are diffuse only: their highlights are small and costly to shade.
    vec3 diffuse = (1.0 - metallic) * albedo / PI;
    for (int i = 0; i < num_points; ++i) {
        vec3 d = point_pos[i] - v_world;
        float r2 = max(dot(d, d), 0.01);
        float spot = 1.0;
        if (point_cone[i].x > -1.5) {
            float cos_angle = dot(-d, point_dir[i]) * inversesqrt(r2);
            spot = smoothstep(point_cone[i].y, point_cone[i].x, cos_angle);
        }
        c += diffuse * max(dot(N, d), 0.0) * inversesqrt(r2) * point_color[i] * spot / r2;
    }
    if (fog_density > 0.0) {
        c = mix(fog_color, c, exp(-fog_density * length(cam_pos - v_world)));
    }
    out_color = vec4(tonemap(c), 1.0);
    out_depth_id = vec2(v_view_z, instance_id);
    vec3 n_gl = mat3(view) * N;
    out_normal = vec4(n_gl.x, -n_gl.y, -n_gl.z, 0.0);
    out_uv_next_prev = vec4(to_pixel(v_clip_next), to_pixel(v_clip_prev));
    out_z_next_prev = vec2(v_clip_next.w, v_clip_prev.w);
}
"""
)
