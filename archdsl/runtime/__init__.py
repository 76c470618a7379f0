"""The torch runtime: building a module from generated source, exports, inference optimisation
and checkpoints. The one backend stage that imports torch; it builds on `codegen` (the generated
source is the code that runs) and imports neither `render` nor `report`.
"""
