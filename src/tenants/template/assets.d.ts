// Template files are imported as text (`with { type: "text" }`) so `bun build --compile` embeds them.
declare module "*.py" {
  const text: string;
  export default text;
}
declare module "*.md" {
  const text: string;
  export default text;
}
