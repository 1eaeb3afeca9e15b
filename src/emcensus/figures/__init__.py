"""Find the published images: article documents → figures → panels → archive images (issue 8).

A pure core apart from its I/O: `documents` takes figures out of PDFs, images and office files;
`panels` splits a figure on its gutters; `scalebar` reads a printed scale bar; `features` turns
pixels into ORB keypoints; `index` keeps those of the catalogued images in a binary-descriptor index
beside the catalog; `match` finds each panel's archive image by descriptor voting and a RANSAC fit.
The catalog stores proposed matches for review (`catalog.figures`); accepted ones become ledger links.
"""
