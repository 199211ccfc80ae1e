"""The one landmark -> feature vector function, shared by collection, training and run time.

A face's landmarks become a fixed-length float32 vector that does not depend on where the face
is in the frame, how large it is or how the head is turned, in the image plane or out of it:
the face is brought onto a canonical 3-D face by the similarity transform (translation,
3-D rotation, scale) that best maps its rigid points (forehead, nose ridge, eye corners,
temples, face sides: points an expression barely moves) onto the canonical ones (least
squares, Umeyama's method). What is left is the expression, not the pose. The alignment also
evens out the small differences between face crops that MediaPipe's face finders make.

The canonical face (``CANONICAL_RIGID``) is the mean of the aligned rigid points of the
FER2013 training faces (generalised Procrustes analysis), made exactly left/right symmetric;
its scale is one root-mean-square radius.

The vector holds the 478 aligned points (x, y, z) followed by the distances between every two
of ``KEY_POINTS`` (brows, eyes, irises, nose, mouth, chin, cheeks), which spell out openings and
stretches the network would otherwise have to learn from few examples.

Only the face is used: FER2013-style training images show no hands or body, so pose and hand
landmarks could only teach the model to ignore them. ``FEATURE_VERSION`` changes whenever the
vector changes; stored feature vectors (collected samples) carry it, and a model refuses
vectors of another version.

``mirror_map`` gives the permutation and signs that turn the features of a face into those of
its mirror image; models use it to average their prediction over both, and training to double
the data. The left/right landmark pairs were found by running MediaPipe on faces and their
horizontally flipped copies and matching the points (``tests/test_features.py`` checks them
the same way).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import combinations

import numpy as np

from emusify.sensing.landmarks import FACE_POINTS, Landmarks

FEATURE_VERSION = 2

#: Left/right symmetric pairs of MediaPipe's 478-point face mesh ("i:j"); other points lie on
#: the mid-line and mirror onto themselves.
_MIRROR_PAIRS = """
    3:248 7:249 20:250 21:251 22:252 23:253 24:254 25:255 26:256 27:257 28:258 29:259 30:260
    31:261 32:262 33:263 34:264 35:265 36:266 37:267 38:268 39:269 40:270 41:271 42:272 43:273
    44:274 45:275 46:276 47:277 48:278 49:279 50:280 51:281 52:282 53:283 54:284 55:285 56:286
    57:287 58:288 59:289 60:290 61:291 62:292 63:293 64:294 65:295 66:296 67:297 68:298 69:299
    70:300 71:301 72:302 73:303 74:304 75:305 76:306 77:307 78:308 79:309 80:310 81:311 82:312
    83:313 84:314 85:315 86:316 87:317 88:318 89:319 90:320 91:321 92:322 93:323 95:324 96:325
    97:326 98:327 99:328 100:329 101:330 102:331 103:332 104:333 105:334 106:335 107:336 108:337
    109:338 110:339 111:340 112:341 113:342 114:343 115:344 116:345 117:346 118:347 119:348
    120:349 121:350 122:351 123:352 124:353 125:354 126:355 127:356 128:357 129:358 130:359
    131:360 132:361 133:362 134:363 135:364 136:365 137:366 138:367 139:368 140:369 141:370
    142:371 143:372 144:373 145:374 146:375 147:376 148:377 149:378 150:379 153:380 154:381
    155:382 156:383 157:384 158:385 159:386 160:387 161:388 162:389 163:390 165:391 166:392
    167:393 169:394 170:395 171:396 172:397 173:398 174:399 176:400 177:401 178:402 179:403
    180:404 181:405 182:406 183:407 184:408 185:409 186:410 187:411 188:412 189:413 190:414
    191:415 192:416 193:417 194:418 196:419 198:420 201:421 202:422 203:423 204:424 205:425
    206:426 207:427 208:428 209:429 210:430 211:431 212:432 213:433 214:434 215:435 216:436
    217:437 218:438 219:439 220:440 221:441 222:442 223:443 224:444 225:445 226:446 227:447
    228:448 229:449 230:450 231:451 232:452 233:453 234:454 235:455 236:456 237:457 238:458
    239:459 240:460 241:461 242:462 243:463 244:464 245:465 246:466 247:467 468:473 469:476
    470:475 471:474 472:477
"""

#: Landmarks whose pairwise distances are features (a set closed under mirroring).
KEY_POINTS = (
    # brows: outer, middle, inner (right then left side of the face)
    70, 105, 107, 300, 334, 336,
    # eyes: outer and inner corner, upper and lower lid; iris centres
    33, 133, 159, 145, 263, 362, 386, 374, 468, 473,
    # nose: bridge, tip, wings
    168, 1, 98, 327,
    # mouth: corners, outer and inner lip mid-points, lip sides
    61, 291, 0, 13, 14, 17, 37, 267, 84, 314,
    # chin, cheeks, face sides, forehead
    152, 50, 280, 234, 454, 10,
)  # fmt: skip

#: The canonical face's rigid points on the mid-line and the face's right side (x <= 0; the
#: left side mirrors them): landmark -> (x, y, z), x right, y down, z away from the camera.
_CANONICAL_HALF = {
    10: (0.0000, -0.8177, -0.3074),
    151: (0.0000, -0.5373, -0.3543),
    9: (0.0000, -0.2533, -0.3790),
    8: (0.0000, -0.1018, -0.3495),
    168: (0.0000, 0.0442, -0.3390),
    6: (0.0000, 0.1989, -0.4073),
    197: (0.0000, 0.3317, -0.4885),
    195: (0.0000, 0.4540, -0.5744),
    5: (0.0000, 0.5838, -0.6639),
    4: (0.0000, 0.7336, -0.7008),
    1: (0.0000, 0.8426, -0.6597),
    33: (-0.8154, 0.0865, 0.0455),
    133: (-0.3297, 0.1220, -0.0537),
    234: (-1.2243, 0.3330, 0.9923),
    127: (-1.2383, 0.0875, 0.8996),
    21: (-1.1745, -0.3634, 0.4825),
    54: (-1.0717, -0.5453, 0.2624),
    103: (-0.9024, -0.6847, 0.0363),
    67: (-0.6383, -0.7728, -0.1623),
    98: (-0.3125, 0.8876, -0.2459),
    129: (-0.3792, 0.7632, -0.1907),
    109: (-0.3461, -0.8113, -0.2767),
    162: (-1.2258, -0.1640, 0.7115),
    130: (-0.8602, 0.0852, 0.0674),
    243: (-0.2894, 0.1274, -0.0702),
    226: (-0.9270, 0.1097, 0.1137),
}


@lru_cache(maxsize=1)
def point_mirror() -> np.ndarray:
    """int [478]: the landmark on the other side of the face (itself on the mid-line)."""
    mirror = np.arange(FACE_POINTS)
    for pair in _MIRROR_PAIRS.split():
        i, j = (int(v) for v in pair.split(":"))
        mirror[i], mirror[j] = j, i
    return mirror


@lru_cache(maxsize=1)
def _key_pairs() -> np.ndarray:
    return np.asarray(list(combinations(range(len(KEY_POINTS)), 2)), dtype=np.int64)


FEATURE_SIZE = FACE_POINTS * 3 + len(KEY_POINTS) * (len(KEY_POINTS) - 1) // 2


@lru_cache(maxsize=1)
def canonical_rigid() -> tuple[np.ndarray, np.ndarray]:
    """(landmark indices int [m], canonical positions float64 [m, 3]) of the rigid points."""
    mirror = point_mirror()
    points = dict(_CANONICAL_HALF)
    for p, (x, y, z) in _CANONICAL_HALF.items():
        points[int(mirror[p])] = (-x, y, z)
    order = sorted(points)
    return np.asarray(order, dtype=np.int64), np.asarray([points[p] for p in order])


def align_faces(faces: np.ndarray) -> np.ndarray:
    """float32 [n, 478, 3] faces in pixels -> the same faces on the canonical face (see above).

    Per face: the rotation R, scale s and centre c that minimise
    ``sum |s R (p - c) - q|^2`` over the rigid points p and their canonical positions q
    (Umeyama 1991; a reflection is never allowed).
    """
    faces = np.asarray(faces, dtype=np.float64)
    index, target = canonical_rigid()
    rigid = faces[:, index]
    centre = rigid.mean(axis=1)
    centred = rigid - centre[:, None]
    cov = np.einsum("mi,nmj->nij", target, centred) / len(index)
    u, d, vt = np.linalg.svd(cov)
    flip = np.ones((len(faces), 3))
    flip[:, 2] = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    rotation = np.einsum("nij,nj,njk->nik", u, flip, vt)
    spread = (centred**2).sum(axis=(1, 2)) / len(index)
    scale = (d * flip).sum(axis=1) / np.where(spread > 1e-12, spread, 1.0)
    aligned = np.einsum("nij,nmj->nmi", rotation, faces - centre[:, None]) * scale[:, None, None]
    return aligned.astype(np.float32)


def features_from_faces(faces: np.ndarray) -> np.ndarray:
    """float32 [n, FEATURE_SIZE] for face landmarks [n, 478, 3] (the batch form of
    ``landmark_features``; training uses it on cached landmarks)."""
    aligned = align_faces(faces)
    key = aligned[:, list(KEY_POINTS)]
    pairs = _key_pairs()
    distances = np.linalg.norm(key[:, pairs[:, 0]] - key[:, pairs[:, 1]], axis=-1)
    out = np.concatenate([aligned.reshape(len(aligned), -1), distances], axis=1)
    return out.astype(np.float32)


def view_features(views: Sequence[Landmarks | None]) -> np.ndarray:
    """float32 [views with a face, FEATURE_SIZE]: the vectors of a picture's views (see
    ``LandmarkExtractor.views``), the rows a mood check reads and keeps."""
    faces = [lm.face for lm in views if lm is not None]
    if not faces:
        return np.zeros((0, FEATURE_SIZE), np.float32)
    return features_from_faces(np.stack(faces))


def landmark_features(lm: Landmarks) -> np.ndarray:
    """The feature vector (float32 [FEATURE_SIZE]) of one face."""
    if lm.face.shape != (FACE_POINTS, 3):
        raise ValueError(
            f"expected face landmarks of shape ({FACE_POINTS}, 3), got {lm.face.shape}"
        )
    return features_from_faces(lm.face[None])[0]


@lru_cache(maxsize=1)
def mirror_map() -> tuple[np.ndarray, np.ndarray]:
    """(index int [FEATURE_SIZE], sign float32 [FEATURE_SIZE]) with
    ``features(mirrored face) == features(face)[index] * sign``."""
    mirror = point_mirror()
    coord_index = (mirror[:, None] * 3 + np.arange(3)[None, :]).reshape(-1)
    coord_sign = np.tile(np.asarray([-1.0, 1.0, 1.0]), FACE_POINTS)
    position = {p: k for k, p in enumerate(KEY_POINTS)}
    key_mirror = [position[int(mirror[p])] for p in KEY_POINTS]
    pairs = _key_pairs()
    pair_position = {(int(a), int(b)): k for k, (a, b) in enumerate(pairs)}
    distance_index = [
        pair_position[tuple(sorted((key_mirror[a], key_mirror[b])))] for a, b in pairs
    ]
    index = np.concatenate([coord_index, FACE_POINTS * 3 + np.asarray(distance_index)])
    sign = np.concatenate([coord_sign, np.ones(len(pairs))])
    return index.astype(np.int64), sign.astype(np.float32)
