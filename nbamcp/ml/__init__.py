"""Game-prediction ML: point-in-time features, training, ONNX export, registry, backtest.

Plain functions and classes with no bus and no MCP: the trainer and inference
workers call them. Importing this package imports nothing heavy; each module
pulls in numpy / scikit-learn / onnxruntime only when it is imported itself.
"""
