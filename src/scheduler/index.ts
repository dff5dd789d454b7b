export { listTasks, findTask, getTask, createTask, cancelTask } from "./tasks.ts";
export type { Task, TaskStatus, TaskCreator, TaskScope, ListTasksFilter } from "./tasks.ts";
export { updateTask } from "./update-task.ts";
export { newTaskSchema, newTaskShape, taskPatchSchema } from "./task-input.ts";
export type { NewTaskInput, TaskPatch } from "./task-input.ts";
export { MAX_PROMPT_BYTES, isKnownTimezone } from "./schedule.ts";
export { onTasksChanged, signalTasksChanged } from "./wake-signal.ts";
