// How request schemas are checked: as fastify does (its own Ajv compiler and settings), except
// that a JSON body's values are taken as sent. Fastify coerces types everywhere, which a query
// string needs ("limit=50" is text) but a JSON body does not: {"protected": null} was read as
// false and unprotected a study, {"port": "104"} and {"uids": "1.2.3"} passed as a number and a
// list. A body of the wrong types is now a 400 naming the property.
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifyServerOptions } from 'fastify';

type ValidatorFactory = NonNullable<NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator']>;
type RouteSchema = { httpPart?: string };
type Options = { customOptions?: Record<string, unknown> } & Record<string, unknown>;
type Compile = (route: RouteSchema) => unknown;

export function bodiesAsSent(): ValidatorFactory {
  const fromPool = AjvCompiler() as unknown as (external: unknown, options: Options) => Compile;
  const build = (external: unknown, options: Options = {}): Compile => {
    const coercing = fromPool(external, options);
    const exact = fromPool(external, { ...options, customOptions: { ...options.customOptions, coerceTypes: false } });
    return (route) => (route.httpPart === 'body' ? exact : coercing)(route);
  };
  return build as unknown as ValidatorFactory;
}
