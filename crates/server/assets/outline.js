// A simplified outline of Syria (about 30 points, lon/lat in degrees, hand-simplified to
// roughly 10 km; for placing incidents on a sketch map, not for measuring). No tiles, no
// network: the map is drawn from this and the places' coordinates.
"use strict";
window.ATHAR_OUTLINE = {
  name: "Syria (simplified)",
  points: [
    [35.92, 35.92], [36.16, 35.82], [36.37, 36.20], [36.69, 36.23], [36.60, 36.60],
    [36.65, 36.83], [37.10, 36.65], [38.00, 36.84], [38.72, 36.70], [39.22, 36.66],
    [40.07, 36.98], [41.21, 37.07], [42.38, 37.11], [42.25, 36.90], [41.83, 36.58],
    [41.40, 36.50], [41.22, 35.63], [41.00, 34.42], [40.69, 34.29], [38.79, 33.37],
    [36.84, 32.31], [36.40, 32.38], [35.78, 32.74], [35.63, 33.25], [35.82, 33.41],
    [36.08, 33.83], [36.36, 34.05], [36.60, 34.20], [36.45, 34.50], [36.16, 34.63],
    [35.97, 34.63], [35.88, 34.89], [35.94, 35.18], [35.78, 35.52], [35.92, 35.92],
  ],
};
