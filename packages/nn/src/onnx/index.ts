/**
 * ONNX export: layers and functional models as ONNX models (opset 17) that ONNX Runtime and
 * other ONNX tools run.
 *
 * @module @tapegrad/nn/onnx
 */
export { exportOnnx, exportOnnxFunction, type ExportOnnxOptions } from "./export.js";
