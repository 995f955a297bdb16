export { sequential, type ParamsOfAll, type StateOfAll } from "./sequential.js";
export { residual, type ResidualTree } from "./residual.js";
export { parallel, type ParallelOptions } from "./parallel.js";
export { LayerError, type LayerList, type ParamsOf, type StateOf } from "./child.js";
export { remat } from "./remat.js";
