// Module resolution hook (registered by checker-preload.mjs): Stryker's TypeScript checker imports
// typescript-cached.mjs where it asks for `typescript`. Everything else, TypeScript's own modules
// included, resolves as usual.
const cached = new URL('./typescript-cached.mjs', import.meta.url).href;

export async function resolve(specifier, context, next) {
  if (specifier === 'typescript' && context.parentURL?.includes('/@stryker-mutator/typescript-checker/')) {
    return { url: cached, shortCircuit: true };
  }
  return next(specifier, context);
}
