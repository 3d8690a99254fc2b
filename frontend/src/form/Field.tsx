/** One generated field: picks the widget for the field's kind. */

import { memo } from "react";
import type { FieldModel, NumberField } from "../model/schemaForm";
import { boundsText, getIn } from "../model/schemaForm";
import { ArrayFieldView } from "./ArrayFieldView";
import { BooleanInput } from "./BooleanInput";
import { CodeField } from "./CodeField";
import { EnumSelect } from "./EnumSelect";
import { FieldShell } from "./FieldShell";
import { domId, useFormState } from "./formContext";
import { JsonInput } from "./JsonInput";
import { MapFieldView } from "./MapFieldView";
import { NumberInput } from "./NumberInput";
import { ObjectFieldView } from "./ObjectFieldView";
import { SecretPicker } from "./SecretPicker";
import { StringInput } from "./StringInput";
import { UnionFieldView } from "./UnionFieldView";

export interface FieldProps {
  field: FieldModel;
  /** Array items: no label, remove button instead. */
  bare?: boolean;
  actions?: React.ReactNode;
}

function FieldImpl({ field, bare, actions }: FieldProps) {
  const form = useFormState();
  const value = getIn(form.value, field.path);
  const canReset =
    !bare &&
    value !== undefined &&
    !/\.\d+$|^\d+$/.test(field.path) &&
    (field.default !== undefined ? JSON.stringify(value) !== JSON.stringify(field.default) : !field.required);
  const htmlFor = domId(form.idPrefix, field.path);
  switch (field.kind) {
    case "object":
      return <ObjectFieldView field={field} actions={actions} />;
    case "array":
      return <ArrayFieldView field={field} actions={actions} />;
    case "union":
      return <UnionFieldView field={field} actions={actions} />;
    case "map":
      return <MapFieldView field={field} actions={actions} />;
    case "boolean":
      return (
        <FieldShell field={field} htmlFor={htmlFor} inline canReset={canReset} actions={actions}>
          <BooleanInput field={field} value={value} />
        </FieldShell>
      );
    case "integer":
    case "number":
      return (
        <FieldShell field={field} htmlFor={htmlFor} hint={boundsText(field as NumberField)} canReset={canReset} bare={bare} actions={actions}>
          <NumberInput field={field} value={value} />
        </FieldShell>
      );
    case "enum":
      return (
        <FieldShell field={field} htmlFor={htmlFor} canReset={canReset} bare={bare} actions={actions}>
          <EnumSelect field={field} value={value} />
        </FieldShell>
      );
    case "code":
      return (
        <FieldShell field={field} htmlFor={htmlFor} hint={field.language.toUpperCase()} canReset={canReset} bare={bare} actions={actions}>
          <CodeField field={field} value={value} />
        </FieldShell>
      );
    case "secret":
      return (
        <FieldShell field={field} htmlFor={htmlFor} hint="secret" canReset={canReset} bare={bare} actions={actions}>
          <SecretPicker field={field} value={value} />
        </FieldShell>
      );
    case "string":
      return (
        <FieldShell field={field} htmlFor={htmlFor} canReset={canReset} bare={bare} actions={actions}>
          <StringInput field={field} value={value} />
        </FieldShell>
      );
    default:
      return (
        <FieldShell field={field} htmlFor={htmlFor} hint="JSON" canReset={canReset} bare={bare} actions={actions}>
          <JsonInput field={field} value={value} />
        </FieldShell>
      );
  }
}

export const Field = memo(FieldImpl);
